"""One reconcile cycle, in process, against the sandbox: the objects a new Canary gets.

The controller's first cycle on a new Canary creates the primary, the three Services and the
TrafficSplit, all owned by the Canary, scales the target to zero, and records Initialized.
Deleting the Canary garbage-collects everything it owns and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient

from canary.api.crd import all_crds
from canary.controller.reconcile import Reconciler
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.resources import DEPLOYMENT, SERVICE, resource_kind
from canary.sandbox.state import SandboxState
from tests.integration.controller_settings import sandbox_settings
from tests.integration.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "podinfo"
CANARIES = resource_kind("canary.dev/v1alpha1", "Canary")
SPLITS = resource_kind("split.smi-spec.io/v1alpha2", "TrafficSplit")


async def _apply_example(api: ApiClient, name: str, namespace: str) -> dict[str, Any]:
    manifest = yaml.safe_load((EXAMPLES / name).read_text())
    manifest["metadata"]["namespace"] = namespace
    return await resources.apply(api, manifest)


async def test_first_cycles_create_owned_objects_and_initialize(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    await install_crds(api, all_crds().values())
    await _apply_example(api, "deployment.yaml", namespace)
    canary = await _apply_example(api, "canary.yaml", namespace)
    uid = canary["metadata"]["uid"]
    reconciler = Reconciler(api, sandbox_settings(sandbox))

    async def cycle() -> str:
        await reconciler.cycle((namespace, "podinfo"))
        stored = await resources.get(api, CANARIES, "podinfo", namespace=namespace)
        return str(((stored or {}).get("status") or {}).get("phase"))

    await eventually(cycle, until=lambda phase: phase == "Initialized", what="phase Initialized")
    reconciler.prometheus.close()

    def owned(obj: dict[str, Any] | None) -> bool:
        references = (obj or {}).get("metadata", {}).get("ownerReferences") or []
        return [(r["kind"], r["name"], r["uid"], r.get("controller")) for r in references] == [
            ("Canary", "podinfo", uid, True)
        ]

    primary = await resources.get(api, DEPLOYMENT, "podinfo-primary", namespace=namespace)
    assert owned(primary)
    assert primary is not None
    assert primary["spec"]["selector"]["matchLabels"] == {"app": "podinfo-primary"}
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "podinfo-primary"
    assert primary["spec"]["replicas"] == 2

    selectors = {}
    for name in ("podinfo", "podinfo-primary", "podinfo-canary"):
        service = await resources.get(api, SERVICE, name, namespace=namespace)
        assert owned(service), name
        assert service is not None
        selectors[name] = service["spec"]["selector"]
        assert [(p["port"], p["name"]) for p in service["spec"]["ports"]] == [(9898, "http")]
    assert selectors == {
        "podinfo": {"app": "podinfo-primary"},
        "podinfo-primary": {"app": "podinfo-primary"},
        "podinfo-canary": {"app": "podinfo"},
    }

    split = await resources.get(api, SPLITS, "podinfo", namespace=namespace)
    assert owned(split)
    assert split is not None
    assert split["spec"]["service"] == "podinfo"
    weights = {b["service"]: b["weight"] for b in split["spec"]["backends"]}
    assert weights == {"podinfo-primary": 100, "podinfo-canary": 0}

    target = await resources.get(api, DEPLOYMENT, "podinfo", namespace=namespace)
    assert target is not None
    assert target["spec"]["replicas"] == 0

    stored = await resources.get(api, CANARIES, "podinfo", namespace=namespace)
    assert stored is not None
    status = stored["status"]
    assert status["lastAppliedSpec"] == status["lastPromotedSpec"] != ""
    assert (
        primary["spec"]["template"]["metadata"]["annotations"]["canary.dev/revision"]
        == (status["lastPromotedSpec"])
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Initialized")

    await resources.delete(api, CANARIES, "podinfo", namespace=namespace)

    async def leftovers() -> list[str]:
        found = []
        for kind, name in (
            (DEPLOYMENT, "podinfo-primary"),
            (SERVICE, "podinfo"),
            (SPLITS, "podinfo"),
        ):
            if await resources.get(api, kind, name, namespace=namespace) is not None:
                found.append(name)
        return found

    await eventually(leftovers, until=lambda names: not names, what="owned objects collected")
    assert await resources.get(api, DEPLOYMENT, "podinfo", namespace=namespace) is not None


async def test_an_unusable_canary_gets_a_condition_and_others_are_unaffected(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    await install_crds(api, all_crds().values())
    canary = yaml.safe_load((EXAMPLES / "canary.yaml").read_text())
    canary["metadata"]["namespace"] = namespace
    canary["metadata"]["name"] = "orphan"
    canary["spec"]["targetRef"]["name"] = "does-not-exist"
    await resources.apply(api, canary)
    reconciler = Reconciler(api, sandbox_settings(sandbox))
    await reconciler.cycle((namespace, "orphan"))
    reconciler.prometheus.close()
    stored = await resources.get(api, CANARIES, "orphan", namespace=namespace)
    assert stored is not None
    ready = next(c for c in stored["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert f"Deployment {namespace}/does-not-exist not found" in ready["message"]


async def test_a_canary_asking_its_router_for_what_it_cannot_do_is_not_released(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    await install_crds(api, all_crds().values())
    await _apply_example(api, "deployment.yaml", namespace)
    canary = yaml.safe_load((EXAMPLES / "canary.yaml").read_text())
    canary["metadata"]["namespace"] = namespace
    analysis = canary["spec"]["analysis"]
    del analysis["stepWeight"], analysis["maxWeight"]
    analysis.update(iterations=3, mirror=True)  # blue/green mirroring, which SMI cannot do
    await resources.apply(api, canary)
    reconciler = Reconciler(api, sandbox_settings(sandbox))
    await reconciler.cycle((namespace, "podinfo"))
    reconciler.prometheus.close()
    stored = await resources.get(api, CANARIES, "podinfo", namespace=namespace)
    assert stored is not None
    ready = next(c for c in stored["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "Unsupported")
    assert "spec.analysis.mirror with provider linkerd" in ready["message"]
    assert await resources.get(api, DEPLOYMENT, "podinfo-primary", namespace=namespace) is None
