"""The kuma router: one cluster-scoped TrafficRoute per Canary, as Flagger writes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import TRAFFIC_ROUTE, CanaryRef, ResourceKind
from canary.routers import kuma
from canary.routers.base import RouteError, RouteRef
from canary.routers.kuma import KumaRouter, service_tag, traffic_route, weights_of
from canary.routers.registry import router_for, router_kind
from canary.routers.settings import RouteSettings

PRIMARY, CANARY = "podinfo-primary", "podinfo-canary"
ROUTE = RouteRef(
    namespace="test", apex="podinfo", owner=CanaryRef(name="podinfo", namespace="test", uid="u")
)


def test_the_traffic_route_is_flaggers() -> None:
    manifest = traffic_route(ROUTE, port=9898, mesh="default", primary=90, canary=10)
    assert manifest == {
        "apiVersion": "kuma.io/v1alpha1",
        "kind": "TrafficRoute",
        "metadata": {
            "name": "podinfo",
            "annotations": {
                "9898.service.kuma.io": "http",
                "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
                "helm.toolkit.fluxcd.io/driftDetection": "disabled",
                "canary.dev/canary": "test/podinfo",
            },
        },
        "mesh": "default",
        "spec": {
            "sources": [{"match": {"kuma.io/service": "*"}}],
            "destinations": [{"match": {"kuma.io/service": "podinfo_test_svc_9898"}}],
            "conf": {
                "split": [
                    {
                        "weight": 90,
                        "destination": {"kuma.io/service": "podinfo-primary_test_svc_9898"},
                    },
                    {
                        "weight": 10,
                        "destination": {"kuma.io/service": "podinfo-canary_test_svc_9898"},
                    },
                ]
            },
        },
    }
    assert "namespace" not in manifest["metadata"]  # cluster-scoped
    assert "ownerReferences" not in manifest["metadata"]  # a namespaced owner is invalid there


def test_the_apex_metadata_replaces_flaggers_default_annotation() -> None:
    manifest = traffic_route(
        ROUTE,
        port=9898,
        mesh="other",
        primary=100,
        canary=0,
        annotations={"9898.service.kuma.io/protocol": "http"},
        labels={"team": "web"},
    )
    assert manifest["mesh"] == "other"
    assert manifest["metadata"]["labels"] == {"team": "web"}
    assert "9898.service.kuma.io" not in manifest["metadata"]["annotations"]
    assert manifest["metadata"]["annotations"]["9898.service.kuma.io/protocol"] == "http"


def test_weights_are_read_back_by_the_services_the_split_names() -> None:
    manifest = traffic_route(ROUTE, port=80, mesh="default", primary=70, canary=30)
    assert weights_of(manifest, ROUTE) == (70, 30)
    manifest["spec"]["conf"]["split"].pop()
    with pytest.raises(RouteError, match="does not split 100% between podinfo-primary"):
        weights_of(manifest, ROUTE)
    assert service_tag("podinfo", namespace="test", port=80) == "podinfo_test_svc_80"


@pytest.mark.parametrize(("primary", "canary"), [(60, 30), (-10, 110)])
def test_weights_not_summing_to_100_are_refused(primary: int, canary: int) -> None:
    with pytest.raises(ValueError, match="summing to 100"):
        traffic_route(ROUTE, port=80, mesh="default", primary=primary, canary=canary)


class _Cluster:
    def __init__(self, route: dict[str, Any] | None = None) -> None:
        self.route = route
        self.applied: list[Mapping[str, Any]] = []

    async def read(self, kind: ResourceKind, _namespace: str, name: str) -> dict[str, Any] | None:
        assert (kind, name) == (TRAFFIC_ROUTE, "podinfo")
        return self.route

    async def apply(self, _api: object, manifest: Mapping[str, Any]) -> dict[str, Any]:
        self.applied.append(manifest)
        self.route = dict(manifest)
        return self.route


API = cast(ApiClient, object())  # never used to send anything: apply is replaced


async def test_reconcile_keeps_the_weights_and_set_weights_is_absolute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cluster = _Cluster()
    monkeypatch.setattr(resources, "apply", cluster.apply)
    router = KumaRouter(API, RouteSettings(provider="kuma", port=9898), mesh="m", read=cluster.read)
    assert await router.get_weights(ROUTE) is None
    await router.reconcile(ROUTE)
    assert await router.get_weights(ROUTE) == (100, 0)
    await router.set_weights(ROUTE, primary=60, canary=40)
    await router.reconcile(ROUTE)
    assert await router.get_weights(ROUTE) == (60, 40)
    assert cluster.applied[-1]["mesh"] == "m"
    with pytest.raises(ValueError, match=r"provider kuma cannot mirror .*analysis\.mirror"):
        await router.set_weights(ROUTE, primary=100, canary=0, mirror=True)


async def test_a_traffic_route_of_another_canary_is_never_taken_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    theirs = traffic_route(
        RouteRef(namespace="other", apex="podinfo", owner=None),
        port=9898,
        mesh="default",
        primary=100,
        canary=0,
    )
    cluster = _Cluster(theirs)
    monkeypatch.setattr(resources, "apply", cluster.apply)
    router = KumaRouter(API, RouteSettings(provider="kuma"), mesh="default", read=cluster.read)
    with pytest.raises(RouteError, match="held by other/podinfo, not by this Canary"):
        await router.set_weights(ROUTE, primary=90, canary=10)
    assert cluster.applied == []


def test_the_mesh_comes_from_the_canarys_annotation_and_the_registry_line() -> None:
    settings = RouteSettings(provider="kuma", canary_annotations={"kuma.io/mesh": "payments"})
    router = router_for("kuma", API, settings)
    assert isinstance(router, KumaRouter)
    assert router._mesh == "payments"
    assert cast(KumaRouter, router_for("kuma", API))._mesh == "default"
    kind = router_kind("kuma")
    assert (kind.route, kind.release) == (TRAFFIC_ROUTE, kuma.release)
    assert (kind.can_match, kind.can_mirror, kind.sticky) == (False, False, False)


async def test_release_deletes_only_this_canarys_traffic_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ours = traffic_route(ROUTE, port=9898, mesh="default", primary=100, canary=0)
    deleted: list[str] = []
    found: dict[str, Any] | None = ours

    async def get(_api: object, kind: ResourceKind, name: str, **_: Any) -> dict[str, Any] | None:
        assert (kind, name) == (TRAFFIC_ROUTE, "podinfo")
        return found

    async def delete(_api: object, kind: ResourceKind, name: str, **_: Any) -> bool:
        assert kind == TRAFFIC_ROUTE
        deleted.append(name)
        return True

    monkeypatch.setattr(resources, "get", get)
    monkeypatch.setattr(resources, "delete", delete)
    assert await kuma.release(API, ROUTE) == "TrafficRoute podinfo deleted"
    found = traffic_route(
        RouteRef(namespace="other", apex="podinfo", owner=None),
        port=9898,
        mesh="default",
        primary=100,
        canary=0,
    )
    assert await kuma.release(API, ROUTE) == ""
    found = None
    assert await kuma.release(API, ROUTE) == ""
    assert deleted == ["podinfo"]
