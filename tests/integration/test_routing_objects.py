"""The objects targets and routers write, as the real API server stores them.

Primary Deployment, the three Services and the SMI TrafficSplit (every version) are applied
through `canary.kube.resources` and the `Router`; the tests check what was stored, that repeating
an action changes nothing, that garbage collection follows the owner references, and that
readiness is judged right for a Deployment that rolls out and for one that never can.

The Canary CRD may not be installed, so a ConfigMap stands in as the owner: garbage collection
works the same for any kind.
"""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from importlib import resources as package_files
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.core.model import WorkloadReadiness
from canary.kube import resources
from canary.kube.errors import Conflict, Invalid, NotFound
from canary.kube.resources import CanaryRef
from canary.routers.base import RouteError, RouteRef
from canary.routers.kubernetes import ServiceSpec, apply_services
from canary.routers.smi import KIND, SmiRouter, SmiVersion
from canary.targets.apply import (
    apply_deployment,
    observe_readiness,
    read_deployment,
    scale_deployment,
)
from canary.targets.deployment import REVISION_ANNOTATION, primary_deployment, primary_from_target
from tests.integration.waiting import eventually

USER = "test-user"  # the field manager standing in for kubectl or a GitOps tool
OPT_OUT = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}


def _split_kind(version: SmiVersion) -> resources.ResourceKind:
    return resources.resource_kind(version.api_version, KIND)


@pytest.fixture
async def trafficsplit_crd(api: ApiClient) -> None:
    """The TrafficSplit CRD, installed if the sandbox did not (idempotent), and Established."""
    name = "trafficsplits.split.smi-spec.io"
    crd = resources.CUSTOM_RESOURCE_DEFINITION
    if await resources.get(api, crd, name, namespace=None) is None:
        text = (
            package_files.files("canary.sandbox") / "manifests/trafficsplit-crd.yaml"
        ).read_text()
        with contextlib.suppress(Conflict):  # another test run installed it meanwhile
            await resources.create(api, yaml.safe_load(text))

    def established(stored: dict[str, Any] | None) -> bool:
        conditions = ((stored or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    await eventually(
        lambda: resources.get(api, crd, name, namespace=None),
        until=established,
        what="TrafficSplit CRD established",
    )


def _target(namespace: str, *, image: str = "example.test/podinfo:1") -> dict[str, Any]:
    labels = {"app": "podinfo"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 2,
            "minReadySeconds": 1,
            "progressDeadlineSeconds": 60,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "podinfo", "image": image}]},
            },
        },
    }


async def _applied_target(api: ApiClient, namespace: str, **kwargs: str) -> dict[str, Any]:
    return await resources.apply(api, _target(namespace, **kwargs), field_manager=USER)


def _owner_references(stored: dict[str, Any]) -> list[tuple[str, str, str, str, bool, bool]]:
    return [
        (r["apiVersion"], r["kind"], r["name"], r["uid"], r["controller"], r["blockOwnerDeletion"])
        for r in stored["metadata"].get("ownerReferences", [])
    ]


def _owned_by(owner: CanaryRef) -> list[tuple[str, str, str, str, bool, bool]]:
    return [("v1", "ConfigMap", owner.name, owner.uid, True, True)]


async def test_primary_and_services_are_stored_as_built(
    api: ApiClient, namespace: str, owner: CanaryRef
) -> None:
    target = await _applied_target(api, namespace)
    await apply_deployment(api, primary_from_target(target, owner=owner, revision="rev-1"))
    await apply_services(
        api,
        ServiceSpec(name="podinfo", port=9898),
        selector_label="app",
        selector_value="podinfo",
        owner=owner,
    )

    primary = await read_deployment(api, "podinfo-primary", namespace=namespace)
    assert primary is not None
    assert primary["metadata"]["labels"] == {"app": "podinfo-primary"}
    assert primary["metadata"]["annotations"][REVISION_ANNOTATION] == "rev-1"
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["spec"]["template"]["metadata"]["labels"] == {"app": "podinfo-primary"}
    assert primary["spec"]["replicas"] == 2
    assert primary["spec"]["minReadySeconds"] == 1
    assert _owner_references(primary) == _owned_by(owner)

    selectors = {}
    for name in ("podinfo", "podinfo-primary", "podinfo-canary"):
        stored = await resources.get(api, resources.SERVICE, name, namespace=namespace)
        assert stored is not None, name
        assert stored["spec"]["type"] == "ClusterIP"
        assert stored["spec"]["ports"] == [
            {"name": "http", "protocol": "TCP", "port": 9898, "targetPort": 9898}
        ]
        assert stored["metadata"]["labels"] == {"app": name}
        assert OPT_OUT.items() <= stored["metadata"]["annotations"].items()
        assert _owner_references(stored) == _owned_by(owner)
        selectors[name] = stored["spec"]["selector"]
    assert selectors == {
        "podinfo": {"app": "podinfo-primary"},
        "podinfo-primary": {"app": "podinfo-primary"},
        "podinfo-canary": {"app": "podinfo"},
    }


async def test_the_primary_keeps_the_promoted_template_until_promotion(
    api: ApiClient, namespace: str, owner: CanaryRef
) -> None:
    first = await _applied_target(api, namespace, image="example.test/podinfo:1")
    promoted = copy.deepcopy(first["spec"]["template"])
    await apply_deployment(api, primary_from_target(first, owner=owner, revision="rev-1"))
    changed = await _applied_target(api, namespace, image="example.test/podinfo:2")

    recreated = primary_deployment(changed, template=promoted, owner=owner, revision="rev-1")
    stored = await apply_deployment(api, recreated)
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "example.test/podinfo:1"

    stored = await apply_deployment(
        api, primary_from_target(changed, owner=owner, revision="rev-2")
    )
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "example.test/podinfo:2"
    assert stored["spec"]["template"]["metadata"]["annotations"][REVISION_ANNOTATION] == "rev-2"


@pytest.mark.usefixtures("trafficsplit_crd")
@pytest.mark.parametrize("version", list(SmiVersion))
async def test_traffic_split_is_created_set_and_read_back(
    api: ApiClient, namespace: str, owner: CanaryRef, version: SmiVersion
) -> None:
    router = SmiRouter(api, version)
    route = RouteRef(namespace=namespace, apex="podinfo", owner=owner)
    assert await router.get_weights(route) is None

    await router.reconcile(route)
    assert await router.get_weights(route) == (100, 0)
    stored = await resources.get(api, _split_kind(version), "podinfo", namespace=namespace)
    assert stored is not None
    assert stored["apiVersion"] == version.api_version
    assert stored["spec"]["service"] == "podinfo"
    zero: int | str = "0" if version is SmiVersion.V1ALPHA1 else 0
    hundred: int | str = "100" if version is SmiVersion.V1ALPHA1 else 100
    assert stored["spec"]["backends"] == [
        {"service": "podinfo-canary", "weight": zero},
        {"service": "podinfo-primary", "weight": hundred},
    ]
    assert OPT_OUT.items() <= stored["metadata"]["annotations"].items()
    assert _owner_references(stored) == _owned_by(owner)

    await router.set_weights(route, primary=70, canary=30)
    assert await router.get_weights(route) == (70, 30)
    before = await resources.get(api, _split_kind(version), "podinfo", namespace=namespace)
    await router.set_weights(route, primary=70, canary=30)
    after = await resources.get(api, _split_kind(version), "podinfo", namespace=namespace)
    assert before is not None
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]

    await router.reconcile(route)  # an existing split keeps its weights
    assert await router.get_weights(route) == (70, 30)


@pytest.mark.usefixtures("trafficsplit_crd")
async def test_reconcile_repairs_a_split_that_lost_a_backend_to_all_primary(
    api: ApiClient, namespace: str, owner: CanaryRef
) -> None:
    router = SmiRouter(api, SmiVersion.V1ALPHA2)
    route = RouteRef(namespace=namespace, apex="podinfo", owner=owner)
    await router.set_weights(route, primary=40, canary=60)
    await resources.merge_patch(
        api,
        _split_kind(SmiVersion.V1ALPHA2),
        "podinfo",
        namespace=namespace,
        patch={"spec": {"backends": [{"service": "podinfo-primary", "weight": 100}]}},
        field_manager=USER,
    )
    with pytest.raises(RouteError, match="has no backend for podinfo-canary"):
        await router.get_weights(route)

    await router.reconcile(route)
    assert await router.get_weights(route) == (100, 0)


@pytest.mark.usefixtures("trafficsplit_crd")
async def test_deleting_the_owner_garbage_collects_everything_created(
    api: ApiClient, namespace: str, owner: CanaryRef
) -> None:
    target = await _applied_target(api, namespace)
    await apply_deployment(api, primary_from_target(target, owner=owner, revision="rev-1"))
    await apply_services(
        api,
        ServiceSpec(name="podinfo", port=80),
        selector_label="app",
        selector_value="podinfo",
        owner=owner,
    )
    await SmiRouter(api, SmiVersion.V1ALPHA2).reconcile(
        RouteRef(namespace=namespace, apex="podinfo", owner=owner)
    )
    owned = [
        (resources.DEPLOYMENT, "podinfo-primary"),
        (resources.SERVICE, "podinfo"),
        (resources.SERVICE, "podinfo-primary"),
        (resources.SERVICE, "podinfo-canary"),
        (_split_kind(SmiVersion.V1ALPHA2), "podinfo"),
    ]

    async def present() -> list[str]:
        return [
            f"{kind.kind}/{name}"
            for kind, name in owned
            if await resources.get(api, kind, name, namespace=namespace) is not None
        ]

    assert len(await present()) == len(owned)
    assert await resources.delete(api, resources.CONFIG_MAP, owner.name, namespace=namespace)
    await eventually(present, until=lambda left: not left, what="owned objects collected")
    assert await read_deployment(api, "podinfo", namespace=namespace) is not None  # not owned


async def test_a_users_apex_service_is_taken_over_without_an_owner_reference(
    api: ApiClient, namespace: str, owner: CanaryRef
) -> None:
    users = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": namespace, "labels": {"team": "a"}},
        "spec": {"selector": {"app": "podinfo"}, "ports": [{"port": 80}]},
    }
    await resources.apply(api, users, field_manager=USER)
    await apply_services(
        api,
        ServiceSpec(name="podinfo", port=80),
        selector_label="app",
        selector_value="podinfo",
        owner=owner,
    )
    apex = await resources.get(api, resources.SERVICE, "podinfo", namespace=namespace)
    assert apex is not None
    assert apex["spec"]["selector"] == {"app": "podinfo-primary"}
    assert "ownerReferences" not in apex["metadata"]
    assert apex["metadata"]["labels"] == {"team": "a", "app": "podinfo"}
    canary = await resources.get(api, resources.SERVICE, "podinfo-canary", namespace=namespace)
    assert canary is not None
    assert _owner_references(canary) == _owned_by(owner)


async def test_the_primary_becomes_ready_and_the_target_scales_to_zero_and_back(
    api: ApiClient, namespace: str, owner: CanaryRef
) -> None:
    target = await _applied_target(api, namespace)
    await apply_deployment(api, primary_from_target(target, owner=owner, revision="rev-1"))

    async def judge(name: str) -> WorkloadReadiness:
        return await observe_readiness(
            api, name, namespace=namespace, progress_deadline_seconds=60, now=datetime.now(UTC)
        )

    ready = await eventually(
        lambda: judge("podinfo-primary"), until=lambda r: r.ready, what="primary ready"
    )
    assert ready.exists
    assert not ready.deadline_exceeded
    assert ready.message == "deployment podinfo-primary is ready: 2 of 2 replicas available"

    await scale_deployment(api, "podinfo", namespace=namespace, replicas=0)
    parked = await eventually(
        lambda: read_deployment(api, "podinfo", namespace=namespace),
        until=lambda d: d is not None and not (d.get("status") or {}).get("replicas"),
        what="target scaled to zero",
    )
    assert parked is not None
    assert parked["spec"]["replicas"] == 0
    await scale_deployment(api, "podinfo", namespace=namespace, replicas=3)
    scaled = await eventually(lambda: judge("podinfo"), until=lambda r: r.ready, what="target up")
    assert scaled.message == "deployment podinfo is ready: 3 of 3 replicas available"

    missing = await judge("absent")
    assert not missing.exists
    assert missing.message == f"deployment {namespace}/absent does not exist"


async def test_a_deployment_that_cannot_schedule_exceeds_its_progress_deadline(
    api: ApiClient, namespace: str
) -> None:
    stuck = _target(namespace)
    stuck["metadata"]["name"] = "stuck"
    stuck["spec"]["progressDeadlineSeconds"] = 10
    stuck["spec"]["template"]["spec"]["nodeSelector"] = {"canary.dev/no-such-node": "true"}
    await resources.apply(api, stuck, field_manager=USER)

    async def judge() -> WorkloadReadiness:
        return await observe_readiness(
            api, "stuck", namespace=namespace, progress_deadline_seconds=600, now=datetime.now(UTC)
        )

    first = await judge()
    assert not first.ready
    exceeded = await eventually(
        judge, until=lambda r: r.deadline_exceeded, within=90, what="ProgressDeadlineExceeded"
    )
    assert exceeded.exists
    assert not exceeded.ready
    assert exceeded.message.startswith("deployment stuck exceeded its progress deadline: ")


async def test_api_errors_are_mapped_with_the_servers_message(
    api: ApiClient, namespace: str
) -> None:
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "errors", "namespace": namespace},
        "data": {"a": "1"},
    }
    assert await resources.get(api, resources.CONFIG_MAP, "errors", namespace=namespace) is None
    await resources.create(api, config)
    with pytest.raises(Conflict, match='configmaps "errors" already exists'):
        await resources.create(api, config)
    with pytest.raises(Invalid, match=r"\.data\.a: expected string"):
        await resources.apply(api, {**config, "data": {"a": 1}})
    with pytest.raises(Invalid, match="Invalid value"):
        await resources.apply(
            api, {**config, "metadata": {**config["metadata"], "name": "Bad_Name"}}
        )
    with pytest.raises(NotFound, match='configmaps "absent" not found'):
        await resources.merge_patch(
            api, resources.CONFIG_MAP, "absent", namespace=namespace, patch={"data": {"a": "2"}}
        )
    assert await resources.delete(api, resources.CONFIG_MAP, "errors", namespace=namespace)
    assert not await resources.delete(api, resources.CONFIG_MAP, "errors", namespace=namespace)
