"""What a cycle observes of an autoscaled Canary: replica changes (an HPA's doing) are never a
new revision, and a missing `<hpa>-primary` makes the Canary uninitialized, so it is repaired."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.api.canary import Canary
from canary.controller.observe import World, observe
from canary.kube.resources import DEPLOYMENT, HORIZONTAL_POD_AUTOSCALER, ResourceKind
from canary.routers.base import RouteRef

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "podinfo"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
ROUTE = RouteRef(namespace="shop", apex="podinfo", owner=None)


class Route:
    """A route object at 100/0 (reading it is the only call `observe` makes of a router)."""

    async def reconcile(self, route: RouteRef) -> None:
        raise AssertionError(f"observe must not reconcile the route of {route.apex}")

    async def set_weights(self, route: RouteRef, **weights: Any) -> None:
        raise AssertionError(f"observe must not set {weights} on the route of {route.apex}")

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        assert route == ROUTE
        return (100, 0)


def _canary(*, autoscaled: bool = True) -> Canary:
    manifest = yaml.safe_load((EXAMPLES / "canary.yaml").read_text())
    manifest["metadata"]["namespace"] = "shop"
    if autoscaled:
        manifest["spec"]["autoscalerRef"] = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
            "primaryScalerReplicas": {"minReplicas": 2, "maxReplicas": 6},
        }
    return Canary.model_validate(manifest)


def _deployment(name: str, *, replicas: int) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / "deployment.yaml").read_text())
    manifest["metadata"].update(name=name, namespace="shop", generation=1)
    manifest["spec"]["replicas"] = replicas
    manifest["status"] = {
        "observedGeneration": 1,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": replicas,
    }
    return manifest


async def _observe(
    canary: Canary, objects: dict[tuple[str, str], dict[str, Any]], *, target_replicas: int
) -> World:
    deployments = {
        "podinfo": _deployment("podinfo", replicas=target_replicas),
        "podinfo-primary": _deployment("podinfo-primary", replicas=3),
    }

    async def read_deployment(namespace: str, name: str) -> dict[str, Any] | None:
        assert namespace == "shop"
        return copy.deepcopy(deployments.get(name))

    async def read_object(kind: ResourceKind, namespace: str, name: str) -> dict[str, Any] | None:
        assert namespace == "shop"
        if kind is DEPLOYMENT:
            return await read_deployment(namespace, name)
        return copy.deepcopy(objects.get((kind.kind, name)))

    return await observe(
        read_deployment, canary, router=Route(), route=ROUTE, now=NOW, read_object=read_object
    )


PRIMARY_HPA = {("HorizontalPodAutoscaler", "podinfo-primary"): {"kind": "x"}}


@pytest.mark.parametrize("replicas", [0, 1, 7])
async def test_replicas_set_by_an_hpa_are_not_a_new_revision(replicas: int) -> None:
    parked = await _observe(_canary(), PRIMARY_HPA, target_replicas=0)
    scaled = await _observe(_canary(), PRIMARY_HPA, target_replicas=replicas)
    assert parked.observation.target_revision
    assert scaled.observation.target_revision == parked.observation.target_revision


async def test_a_missing_primary_hpa_is_observed_as_not_initialized() -> None:
    present = await _observe(_canary(), PRIMARY_HPA, target_replicas=0)
    missing = await _observe(_canary(), {}, target_replicas=0)
    assert present.observation.initialized
    assert not missing.observation.initialized


async def test_without_an_autoscaler_ref_no_hpa_is_needed() -> None:
    world = await _observe(_canary(autoscaled=False), {}, target_replicas=0)
    assert world.observation.initialized


def test_the_primary_hpa_is_read_as_autoscaling_v2() -> None:
    assert HORIZONTAL_POD_AUTOSCALER.path(namespace="shop", name="podinfo-primary") == (
        "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/podinfo-primary"
    )
