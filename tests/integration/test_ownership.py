"""No Canary acts on what another Canary holds, and none creates objects it cannot name.

Reconcile cycles run in process against the sandbox's API server (and its garbage collector).
A refused Canary gets `Ready=False` (reason `Conflict` naming the other Canary and the object,
or `InvalidName`) and a Warning event, and writes nothing else: the holder's primary, Services
and route keep their exact resourceVersions, and deleting the refused Canary (even one carrying
the revertOnDeletion finalizer from before) reverts and garbage-collects nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.api.crd import all_crds
from canary.controller.deletion import FINALIZER
from canary.controller.reconcile import Reconciler
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.resources import CANARY, DEPLOYMENT, SERVICE, TRAFFIC_SPLIT, ResourceKind
from canary.sandbox.state import SandboxState
from tests.e2e.harness import events_of
from tests.integration.controller_settings import sandbox_settings
from tests.integration.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "podinfo"
HOLDER = "podinfo"
# What the holder writes: a refused Canary must leave every one exactly as it is.
HOLDERS_OBJECTS: list[tuple[ResourceKind, str]] = [
    (DEPLOYMENT, "podinfo"),
    (DEPLOYMENT, "podinfo-primary"),
    (SERVICE, "podinfo"),
    (SERVICE, "podinfo-primary"),
    (SERVICE, "podinfo-canary"),
    (TRAFFIC_SPLIT, "podinfo"),
]


def _example(name: str, namespace: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    manifest["metadata"]["namespace"] = namespace
    return manifest


def _canary(namespace: str, name: str, *, target: str = "podinfo", **spec: Any) -> dict[str, Any]:
    manifest = _example("canary.yaml", namespace)
    manifest["metadata"]["name"] = name
    manifest["spec"]["targetRef"]["name"] = target
    manifest["spec"].update(spec)
    return manifest


@pytest.fixture
async def reconciler(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> AsyncIterator[Reconciler]:
    await install_crds(api, all_crds().values())
    await resources.apply(api, _example("deployment.yaml", namespace))
    reconciler = Reconciler(api, sandbox_settings(sandbox))
    yield reconciler
    reconciler.prometheus.close()


async def _stored(api: ApiClient, namespace: str, name: str) -> dict[str, Any]:
    found = await resources.get(api, CANARY, name, namespace=namespace)
    assert found is not None, name
    return found


def _ready(canary: dict[str, Any]) -> dict[str, Any]:
    conditions = (canary.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), {})


async def _cycled_until_ready(
    reconciler: Reconciler, namespace: str, name: str, status: str = "True"
) -> dict[str, Any]:
    async def cycle() -> dict[str, Any]:
        await reconciler.cycle((namespace, name))
        return _ready(await _stored(reconciler.api, namespace, name))

    return await eventually(
        cycle, until=lambda ready: ready.get("status") == status, what=f"{name} Ready={status}"
    )


async def _snapshot(api: ApiClient, namespace: str) -> dict[str, tuple[str, Any]]:
    """resourceVersion (and owners) of each of the holder's objects; the target's spec."""
    found: dict[str, tuple[str, Any]] = {}
    for kind, name in HOLDERS_OBJECTS:
        obj = await resources.get(api, kind, name, namespace=namespace)
        assert obj is not None, f"{kind.kind}/{name}"
        metadata = obj["metadata"]
        watched = obj["spec"] if kind == DEPLOYMENT else metadata["resourceVersion"]
        found[f"{kind.kind}/{name}"] = (metadata.get("generation"), watched)
        found[f"{kind.kind}/{name} owners"] = ("", metadata.get("ownerReferences"))
    return found


async def _holder_initialized(reconciler: Reconciler, namespace: str) -> dict[str, Any]:
    await resources.apply(reconciler.api, _canary(namespace, HOLDER))
    ready = await _cycled_until_ready(reconciler, namespace, HOLDER)
    assert ready["reason"] == "Initialized"
    return await _stored(reconciler.api, namespace, HOLDER)


async def _refused(
    reconciler: Reconciler, namespace: str, name: str, reason: str = "Conflict"
) -> str:
    """Two cycles of `name` (the second must change nothing); its Ready message."""
    await reconciler.cycle((namespace, name))
    await reconciler.cycle((namespace, name))
    stored = await _stored(reconciler.api, namespace, name)
    ready = _ready(stored)
    assert (ready.get("status"), ready.get("reason")) == ("False", reason), ready
    assert FINALIZER not in (stored["metadata"].get("finalizers") or [])
    events = await events_of(reconciler.api, name, namespace=namespace)
    assert [(e.type, e.reason, e.message) for e in events] == [
        ("Warning", reason, ready["message"])
    ]
    return str(ready["message"])


async def test_a_canary_naming_another_canarys_primary_is_refused_and_writes_nothing(
    reconciler: Reconciler, namespace: str
) -> None:
    api = reconciler.api
    await _holder_initialized(reconciler, namespace)
    before = await _snapshot(api, namespace)
    intruder = _canary(namespace, "intruder", target="podinfo-primary", revertOnDeletion=True)
    await resources.apply(api, intruder)

    message = await _refused(reconciler, namespace, "intruder")

    assert message.startswith(
        f"Deployment {namespace}/podinfo-primary (this Canary's target) is the primary "
        f"Deployment of Canary {namespace}/{HOLDER}, which holds it"
    )
    assert await _snapshot(api, namespace) == before
    for kind, name in (
        (DEPLOYMENT, "podinfo-primary-primary"),
        (SERVICE, "podinfo-primary-canary"),
    ):
        assert await resources.get(api, kind, name, namespace=namespace) is None, name
    await reconciler.cycle((namespace, HOLDER))
    assert _ready(await _stored(api, namespace, HOLDER))["status"] == "True"


async def test_of_two_canaries_on_one_deployment_the_holder_keeps_it(
    reconciler: Reconciler, namespace: str
) -> None:
    api = reconciler.api
    holder = await _holder_initialized(reconciler, namespace)
    before = await _snapshot(api, namespace)
    # Written by an older controller that let both run: the finalizer is already there.
    second = _canary(namespace, "second", revertOnDeletion=True)
    second["metadata"]["finalizers"] = [FINALIZER]
    await resources.apply(api, second)

    await reconciler.cycle((namespace, "second"))
    ready = _ready(await _stored(api, namespace, "second"))
    assert (ready["status"], ready["reason"]) == ("False", "Conflict")
    assert ready["message"].startswith(
        f"Deployment {namespace}/podinfo (this Canary's target) is the target of Canary "
        f"{namespace}/{HOLDER}, which holds it (it owns Deployment podinfo-primary)"
    )
    assert await _snapshot(api, namespace) == before

    # Deleting the refused one reverts nothing: the target stays at zero, the apex selects the
    # primary, the TrafficSplit stays, and nothing of the holder's is garbage-collected.
    await resources.delete(api, CANARY, "second", namespace=namespace)

    async def deleted() -> dict[str, Any] | None:
        if await resources.get(api, CANARY, "second", namespace=namespace) is not None:
            await reconciler.cycle((namespace, "second"))
        return await resources.get(api, CANARY, "second", namespace=namespace)

    await eventually(deleted, until=lambda found: found is None, what="second deleted")
    assert await _snapshot(api, namespace) == before
    reasons = [e.reason for e in await events_of(api, "second", namespace=namespace)]
    assert "RevertSkipped" in reasons
    assert "TrafficReverted" not in reasons
    owners = before["Deployment/podinfo-primary owners"][1]
    assert [o["uid"] for o in owners] == [holder["metadata"]["uid"]]


async def test_when_the_holder_is_deleted_the_refused_canary_takes_over(
    reconciler: Reconciler, namespace: str
) -> None:
    api = reconciler.api
    await _holder_initialized(reconciler, namespace)
    await resources.apply(api, _canary(namespace, "second"))
    await reconciler.cycle((namespace, "second"))
    assert _ready(await _stored(api, namespace, "second"))["reason"] == "Conflict"

    await resources.delete(api, CANARY, HOLDER, namespace=namespace)
    ready = await _cycled_until_ready(reconciler, namespace, "second")
    assert ready["reason"] == "Initialized"
    second = await _stored(api, namespace, "second")
    primary = await resources.get(api, DEPLOYMENT, "podinfo-primary", namespace=namespace)
    assert primary is not None
    assert [o["uid"] for o in primary["metadata"]["ownerReferences"]] == [second["metadata"]["uid"]]


async def test_of_two_new_canaries_on_one_deployment_the_first_created_acts(
    reconciler: Reconciler, namespace: str
) -> None:
    api = reconciler.api
    await resources.apply(api, _canary(namespace, "first"))
    first = await _stored(api, namespace, "first")

    async def created_later() -> dict[str, Any]:
        await resources.delete(api, CANARY, "a-later", namespace=namespace)
        await eventually(
            lambda: resources.get(api, CANARY, "a-later", namespace=namespace),
            until=lambda found: found is None,
            what="a-later gone",
        )
        return await resources.apply(api, _canary(namespace, "a-later"))

    # A later creationTimestamp (whole seconds): "a-later" sorts first by name, yet loses.
    await eventually(
        created_later,
        until=lambda later: (
            later["metadata"]["creationTimestamp"] > first["metadata"]["creationTimestamp"]
        ),
        what="a later creationTimestamp",
    )
    message = await _refused(reconciler, namespace, "a-later")  # it runs first, and stays out
    assert message.startswith(
        f"Deployment {namespace}/podinfo (this Canary's target) is the target of Canary "
        f"{namespace}/first, which holds it (it was created first)"
    )
    assert await resources.get(api, DEPLOYMENT, "podinfo-primary", namespace=namespace) is None
    assert (await _cycled_until_ready(reconciler, namespace, "first"))["reason"] == "Initialized"


async def test_a_canary_whose_services_are_another_canarys_is_refused(
    reconciler: Reconciler, namespace: str
) -> None:
    api = reconciler.api
    await _holder_initialized(reconciler, namespace)
    before = await _snapshot(api, namespace)
    other = _example("deployment.yaml", namespace)
    other["metadata"]["name"] = "other"
    await resources.apply(api, other)
    colliding = _canary(namespace, "colliding", target="other")
    colliding["spec"]["service"]["name"] = "podinfo"
    await resources.apply(api, colliding)

    message = await _refused(reconciler, namespace, "colliding")

    assert message.startswith(
        f"Service {namespace}/podinfo (this Canary's apex Service) is the apex Service of "
        f"Canary {namespace}/{HOLDER}, which holds it (it owns Service podinfo)"
    )
    assert await _snapshot(api, namespace) == before
    target = await resources.get(api, DEPLOYMENT, "other", namespace=namespace)
    assert target is not None
    assert target["spec"]["replicas"] == other["spec"]["replicas"]  # not scaled to zero
    assert await resources.get(api, DEPLOYMENT, "other-primary", namespace=namespace) is None


async def test_a_users_apex_service_with_its_own_port_is_adopted(
    reconciler: Reconciler, namespace: str
) -> None:
    api = reconciler.api
    users = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": namespace, "labels": {"team": "a"}},
        "spec": {
            "selector": {"app": "podinfo"},
            "ports": [{"name": "http", "port": 9898, "targetPort": 9898}],
        },
    }
    await resources.apply(api, users, field_manager="kubectl")
    canary = _canary(namespace, HOLDER)
    canary["spec"]["service"].update(port=80, targetPort=9898)
    await resources.apply(api, canary)

    ready = await _cycled_until_ready(reconciler, namespace, HOLDER)
    assert ready["reason"] == "Initialized"
    await reconciler.cycle((namespace, HOLDER))

    apex = await resources.get(api, SERVICE, "podinfo", namespace=namespace)
    assert apex is not None
    assert [(p["name"], p["port"], p["targetPort"]) for p in apex["spec"]["ports"]] == [
        ("http", 80, 9898)
    ]
    assert apex["spec"]["selector"] == {"app": "podinfo-primary"}
    assert "ownerReferences" not in apex["metadata"]  # it survives the Canary
    assert apex["metadata"]["labels"]["team"] == "a"
    adopted = [
        e for e in await events_of(api, HOLDER, namespace=namespace) if e.reason == "ServiceAdopted"
    ]
    message = (
        f"Service {namespace}/podinfo was not created by this Canary: adopted it with the "
        "ports and selector of spec.service (ports 9898/http -> 80/http); it is kept when "
        "the Canary is deleted"
    )
    assert [(e.type, e.message) for e in adopted] == [("Normal", message)]


async def test_a_name_only_the_target_shows_is_refused_before_anything_is_created(
    reconciler: Reconciler, namespace: str
) -> None:
    api = reconciler.api
    label = "a" * 56  # `<label>-primary`, the primary's selector label value, would be 64 long
    target = _example("deployment.yaml", namespace)
    target["metadata"]["name"] = "web"
    target["metadata"]["labels"] = {"app": label}
    target["spec"]["selector"]["matchLabels"] = {"app": label}
    target["spec"]["template"]["metadata"]["labels"] = {"app": label}
    await resources.apply(api, target)
    await resources.apply(api, _canary(namespace, "web", target="web"))

    message = await _refused(reconciler, namespace, "web", reason="InvalidName")

    assert f"label value '{label}-primary' (the primary's app label" in message
    assert message.endswith("nothing was created")
    for kind, name in ((DEPLOYMENT, "web-primary"), (SERVICE, "web"), (SERVICE, "web-canary")):
        assert await resources.get(api, kind, name, namespace=namespace) is None, name
    stored = await resources.get(api, DEPLOYMENT, "web", namespace=namespace)
    assert stored is not None
    assert stored["spec"]["replicas"] == 2  # not scaled to zero


async def test_a_dotted_target_name_is_admitted_with_a_service_name(
    reconciler: Reconciler, namespace: str
) -> None:
    api = reconciler.api
    target = _example("deployment.yaml", namespace)
    target["metadata"]["name"] = "podinfo.v2"
    for labels in (
        target["spec"]["selector"]["matchLabels"],
        target["spec"]["template"]["metadata"]["labels"],
    ):
        labels["app"] = "podinfo-v2"
    await resources.apply(api, target)
    canary = _canary(namespace, "dotted", target="podinfo.v2")
    canary["spec"]["service"]["name"] = "podinfo-v2"
    await resources.apply(api, canary)
    ready = await _cycled_until_ready(reconciler, namespace, "dotted")
    assert ready["reason"] == "Initialized"
    for kind, name in ((DEPLOYMENT, "podinfo.v2-primary"), (SERVICE, "podinfo-v2-canary")):
        assert await resources.get(api, kind, name, namespace=namespace) is not None, name
