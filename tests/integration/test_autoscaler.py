"""Reconcile cycles, in process, of a Canary whose target has an HPA (`spec.autoscalerRef`).

The primary gets `<hpa>-primary`, recreated when it goes missing and re-synced from the target's
HPA at promotion; a missing target HPA stops the Canary with a condition naming the field; and
the primary's replicas are never reset by the controller's own apply once an HPA owns them.
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
from canary.kube.resources import CANARY, DEPLOYMENT, HORIZONTAL_POD_AUTOSCALER
from canary.sandbox.state import SandboxState
from tests.integration.controller_settings import sandbox_settings
from tests.integration.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "podinfo"
MANAGER = "canary-integration-test"
AUTOSCALER_REF = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "web"}


def _hpa(namespace: str, *, utilization: int = 80) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": utilization},
                    },
                }
            ],
        },
    }


def _canary(namespace: str, *, autoscaler_ref: dict[str, Any] | None) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / "canary.yaml").read_text())
    manifest["metadata"]["namespace"] = namespace
    manifest["spec"]["skipAnalysis"] = True  # promotions without metrics, for these tests
    if autoscaler_ref is not None:
        manifest["spec"]["autoscalerRef"] = autoscaler_ref
    return manifest


async def _apply(api: ApiClient, manifest: dict[str, Any]) -> dict[str, Any]:
    return await resources.apply(api, manifest, field_manager=MANAGER)


@pytest.fixture
async def reconciler(api: ApiClient, sandbox: SandboxState) -> AsyncIterator[Reconciler]:
    await install_crds(api, all_crds().values())
    reconciler = Reconciler(api, sandbox_settings(sandbox))
    yield reconciler
    reconciler.prometheus.close()


async def _deployment_example(api: ApiClient, namespace: str) -> None:
    manifest = yaml.safe_load((EXAMPLES / "deployment.yaml").read_text())
    manifest["metadata"]["namespace"] = namespace
    await _apply(api, manifest)


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


async def test_a_missing_hpa_stops_the_canary_naming_the_field(
    api: ApiClient, namespace: str, reconciler: Reconciler
) -> None:
    await _deployment_example(api, namespace)
    await _apply(api, _canary(namespace, autoscaler_ref=AUTOSCALER_REF))
    await reconciler.cycle((namespace, "podinfo"))
    stored = await _get(api, CANARY, "podinfo", namespace)
    ready = next(c for c in stored["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "CannotProceed")
    assert ready["message"] == (
        f"HorizontalPodAutoscaler {namespace}/web not found (spec.autoscalerRef.name); "
        "create it, or remove spec.autoscalerRef"
    )
    assert await resources.get(api, DEPLOYMENT, "podinfo-primary", namespace=namespace) is None


async def test_the_primary_hpa_is_created_owned_and_recreated_when_deleted(
    api: ApiClient, namespace: str, reconciler: Reconciler
) -> None:
    await _deployment_example(api, namespace)
    target_hpa = await _apply(api, _hpa(namespace))
    ref = {**AUTOSCALER_REF, "primaryScalerReplicas": {"minReplicas": 2, "maxReplicas": 3}}
    canary = await _apply(api, _canary(namespace, autoscaler_ref=ref))
    await _cycle_until(api, reconciler, namespace, phase="Initialized")

    primary_hpa = await _get(api, HORIZONTAL_POD_AUTOSCALER, "web-primary", namespace)
    assert primary_hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "podinfo-primary",
    }
    assert (primary_hpa["spec"]["minReplicas"], primary_hpa["spec"]["maxReplicas"]) == (2, 3)
    assert primary_hpa["spec"]["metrics"] == target_hpa["spec"]["metrics"]
    owners = primary_hpa["metadata"]["ownerReferences"]
    assert [(o["kind"], o["uid"], o["controller"]) for o in owners] == [
        ("Canary", canary["metadata"]["uid"], True)
    ]
    assert primary_hpa["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/reconcile"] == (
        "disabled"
    )
    untouched = await _get(api, HORIZONTAL_POD_AUTOSCALER, "web", namespace)
    assert untouched["spec"] == target_hpa["spec"]
    writers = {entry["manager"] for entry in untouched["metadata"]["managedFields"]}
    assert not any(writer.startswith("canary-controller") for writer in writers), writers
    primary = await _get(api, DEPLOYMENT, "podinfo-primary", namespace)
    assert primary["spec"]["replicas"] == 2  # the target's, until the primary's HPA acts

    await resources.delete(api, HORIZONTAL_POD_AUTOSCALER, "web-primary", namespace=namespace)

    async def recreated() -> dict[str, Any] | None:
        await reconciler.cycle((namespace, "podinfo"))
        return await resources.get(
            api, HORIZONTAL_POD_AUTOSCALER, "web-primary", namespace=namespace
        )

    again = await eventually(recreated, until=lambda hpa: hpa is not None, what="web-primary back")
    assert again is not None
    assert again["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    status = (await _get(api, CANARY, "podinfo", namespace))["status"]
    assert status["phase"] == "Initialized"


async def test_an_hpa_added_later_takes_over_the_primary_without_a_reset_and_is_resynced(
    api: ApiClient, namespace: str, reconciler: Reconciler
) -> None:
    await _deployment_example(api, namespace)
    await _apply(api, _canary(namespace, autoscaler_ref=None))
    await _cycle_until(api, reconciler, namespace, phase="Initialized")
    primary = await _get(api, DEPLOYMENT, "podinfo-primary", namespace)
    assert primary["spec"]["replicas"] == 2  # set by the controller's own apply

    # The owner adds an HPA (which leaves 2 alone: within its bounds, and without metrics).
    await _apply(api, _hpa(namespace))
    await _apply(api, _canary(namespace, autoscaler_ref=AUTOSCALER_REF))

    async def primary_hpa() -> dict[str, Any] | None:
        await reconciler.cycle((namespace, "podinfo"))
        return await resources.get(
            api, HORIZONTAL_POD_AUTOSCALER, "web-primary", namespace=namespace
        )

    await eventually(primary_hpa, until=lambda hpa: hpa is not None, what="web-primary created")
    # A change of the target HPA reaches the primary's at the next promotion.
    await _apply(api, _hpa(namespace, utilization=50))
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
    assert promoted["spec"]["replicas"] == 2, "the promotion must not reset replicas to 1"
    resynced = await _get(api, HORIZONTAL_POD_AUTOSCALER, "web-primary", namespace)
    target = resynced["spec"]["metrics"][0]["resource"]["target"]
    assert target["averageUtilization"] == 50
