"""Reconcile cycles, in process, of a Canary whose target is scaled by a KEDA ScaledObject
(`spec.autoscalerRef` of kind ScaledObject), on the sandbox's API server with KEDA's own CRD.

The primary gets `<so>-primary` (queries and bounds for the primary, owned by the Canary,
recreated when deleted); the target's ScaledObject is paused at zero replicas and otherwise left
as written; a missing ScaledObject stops the Canary with a condition naming the field. No KEDA
operator runs: these tests check the objects the controller writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.api.crd import all_crds
from canary.controller.reconcile import Reconciler
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.resources import CANARY, DEPLOYMENT, SCALED_OBJECT
from canary.sandbox.state import SandboxState
from canary.targets.scaled_object import PAUSED_REPLICAS
from tests.integration.controller_settings import sandbox_settings
from tests.integration.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MANAGER = "canary-integration-test"
TARGET_QUERY = 'sum(rate(http_requests_total{ app="podinfo" }[30s]))'
PRIMARY_QUERY = 'sum(rate(http_requests_total{ app="podinfo-primary" }[30s]))'


def _example(path: str, namespace: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / path).read_text())
    manifest["metadata"]["namespace"] = namespace
    return manifest


def _canary(namespace: str, **ref: Any) -> dict[str, Any]:
    """The Canary of examples/autoscaler/canary-keda.yaml, without analysis, and with `ref`'s
    fields in place of its autoscalerRef's (None removes one)."""
    manifest = _example("autoscaler/canary-keda.yaml", namespace)
    manifest["spec"]["skipAnalysis"] = True  # promotions without metrics, for these tests
    autoscaler = manifest["spec"]["autoscalerRef"]
    for key, value in ref.items():
        if value is None:
            autoscaler.pop(key, None)
        else:
            autoscaler[key] = value
    return manifest


async def _apply(api: ApiClient, manifest: dict[str, Any]) -> dict[str, Any]:
    return await resources.apply(api, manifest, field_manager=MANAGER)


@pytest.fixture
async def reconciler(api: ApiClient, sandbox: SandboxState) -> AsyncIterator[Reconciler]:
    await install_crds(api, all_crds().values())
    reconciler = Reconciler(api, sandbox_settings(sandbox))
    yield reconciler
    reconciler.prometheus.close()


async def _cycle_until(
    api: ApiClient, reconciler: Reconciler, namespace: str, *, phase: str
) -> dict[str, Any]:
    async def cycle() -> dict[str, Any]:
        await reconciler.cycle((namespace, "podinfo"))
        stored = await resources.get(api, CANARY, "podinfo", namespace=namespace)
        return dict((stored or {}).get("status") or {})

    return await eventually(
        cycle, until=lambda status: status.get("phase") == phase, what=f"phase {phase}"
    )


async def _get(api: ApiClient, kind: resources.ResourceKind, name: str, ns: str) -> dict[str, Any]:
    found = await resources.get(api, kind, name, namespace=ns)
    assert found is not None, f"{kind.kind} {ns}/{name} does not exist"
    return found


def _controller_fields(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        entry["fieldsV1"]
        for entry in obj["metadata"].get("managedFields") or []
        if entry["manager"].startswith("canary-controller")
    ]


async def test_a_missing_scaled_object_stops_the_canary_naming_the_field(
    api: ApiClient, namespace: str, reconciler: Reconciler
) -> None:
    await _apply(api, _example("podinfo/deployment.yaml", namespace))
    await _apply(api, _canary(namespace))
    await reconciler.cycle((namespace, "podinfo"))
    stored = await _get(api, CANARY, "podinfo", namespace)
    ready = next(c for c in stored["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "CannotProceed")
    assert ready["message"] == (
        f"ScaledObject {namespace}/podinfo-so not found (spec.autoscalerRef.name); create it "
        "(and KEDA's CRDs are installed), or remove spec.autoscalerRef"
    )
    assert await resources.get(api, DEPLOYMENT, "podinfo-primary", namespace=namespace) is None


async def test_the_primary_scaled_object_is_written_for_the_primary_and_the_target_paused(
    api: ApiClient, namespace: str, reconciler: Reconciler
) -> None:
    await _apply(api, _example("podinfo/deployment.yaml", namespace))
    target_so = await _apply(api, _example("autoscaler/scaledobject.yaml", namespace))
    canary = await _apply(api, _canary(namespace, primaryScalerQueries=None))
    await _cycle_until(api, reconciler, namespace, phase="Initialized")

    primary_so = await _get(api, SCALED_OBJECT, "podinfo-so-primary", namespace)
    expected_trigger = {
        **target_so["spec"]["triggers"][0],
        "metadata": {**target_so["spec"]["triggers"][0]["metadata"], "query": PRIMARY_QUERY},
    }
    assert target_so["spec"]["triggers"][0]["metadata"]["query"] == TARGET_QUERY
    assert primary_so["spec"] == {
        **target_so["spec"],
        "scaleTargetRef": {"name": "podinfo-primary"},
        "minReplicaCount": 2,
        "maxReplicaCount": 4,
        "triggers": [expected_trigger],
    }
    owners = primary_so["metadata"]["ownerReferences"]
    assert [(o["kind"], o["uid"], o["controller"]) for o in owners] == [
        ("Canary", canary["metadata"]["uid"], True)
    ]
    assert PAUSED_REPLICAS not in primary_so["metadata"]["annotations"]

    # The target's ScaledObject: paused at zero, and nothing else of it written.
    paused = await _get(api, SCALED_OBJECT, "podinfo-so", namespace)
    assert paused["metadata"]["annotations"] == {PAUSED_REPLICAS: "0"}
    assert paused["spec"] == target_so["spec"]
    (written,) = _controller_fields(paused)
    assert set(written) == {"f:metadata"}
    assert set(written["f:metadata"]) == {"f:annotations"}
    assert set(written["f:metadata"]["f:annotations"]) - {"."} == {f"f:{PAUSED_REPLICAS}"}
    assert (await _get(api, DEPLOYMENT, "podinfo", namespace))["spec"]["replicas"] == 0

    await resources.delete(api, SCALED_OBJECT, "podinfo-so-primary", namespace=namespace)

    async def recreated() -> dict[str, Any] | None:
        await reconciler.cycle((namespace, "podinfo"))
        return await resources.get(api, SCALED_OBJECT, "podinfo-so-primary", namespace=namespace)

    again = await eventually(recreated, until=lambda so: so is not None, what="the copy back")
    assert again is not None
    assert again["spec"] == primary_so["spec"]


async def test_primary_scaler_queries_and_a_change_reach_the_primary_at_promotion(
    api: ApiClient, namespace: str, reconciler: Reconciler
) -> None:
    await _apply(api, _example("podinfo/deployment.yaml", namespace))
    target_so = _example("autoscaler/scaledobject.yaml", namespace)
    await _apply(api, target_so)
    await _apply(api, _canary(namespace, primaryScalerQueries={"requests": "vector(3)"}))
    await _cycle_until(api, reconciler, namespace, phase="Initialized")
    primary_so = await _get(api, SCALED_OBJECT, "podinfo-so-primary", namespace)
    assert primary_so["spec"]["triggers"][0]["metadata"]["query"] == "vector(3)"

    target_so["spec"]["triggers"][0]["metadata"]["threshold"] = "9"
    await _apply(api, target_so)
    await resources.merge_patch(
        api,
        DEPLOYMENT,
        "podinfo",
        namespace=namespace,
        patch={"spec": {"template": {"metadata": {"annotations": {"release": "2"}}}}},
        field_manager=MANAGER,
    )
    await _cycle_until(api, reconciler, namespace, phase="Succeeded")
    promoted = await _get(api, DEPLOYMENT, "podinfo-primary", namespace)
    assert promoted["spec"]["template"]["metadata"]["annotations"]["release"] == "2"
    resynced = await _get(api, SCALED_OBJECT, "podinfo-so-primary", namespace)
    assert resynced["spec"]["triggers"][0]["metadata"] == {
        **target_so["spec"]["triggers"][0]["metadata"],
        "query": "vector(3)",
        "threshold": "9",
    }
    target = await _get(api, SCALED_OBJECT, "podinfo-so", namespace)
    assert target["metadata"]["annotations"] == {PAUSED_REPLICAS: "0"}
