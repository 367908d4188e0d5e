"""The knative router: the target Knative Service's `spec.traffic`, as Flagger writes it, and
the weights read back from `status.traffic`, as Flagger reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import KNATIVE_SERVICE, ResourceKind
from canary.routers import knative
from canary.routers.base import RouteError, RouteRef
from canary.routers.knative import (
    KnativeRouter,
    observed_weights,
    released_traffic,
    traffic,
    weights_of,
)
from canary.routers.registry import router_for, router_kind

ROUTE = RouteRef(namespace="test", apex="podinfo", owner=None)
PRIMARY = "flagger.app/primary-revision"


def _service(
    traffic_block: list[dict[str, Any]] | None = None,
    *,
    primary: str | None = "podinfo-00001",
    latest: str = "podinfo-00002",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "podinfo", "namespace": "test"}
    if primary is not None:
        metadata["annotations"] = {PRIMARY: primary}
    spec: dict[str, Any] = {"template": {"spec": {"containers": [{"image": "podinfo"}]}}}
    if traffic_block is not None:
        spec["traffic"] = traffic_block
    return {"metadata": metadata, "spec": spec, "status": {"latestCreatedRevisionName": latest}}


def test_the_traffic_block_is_flaggers_latest_and_primary_entries() -> None:
    assert traffic(primary_revision="podinfo-00001", primary=70, canary=30) == [
        {"latestRevision": True, "percent": 30},
        {"revisionName": "podinfo-00001", "percent": 70},
    ]


@pytest.mark.parametrize(("primary", "canary"), [(60, 30), (-10, 110), (101, -1)])
def test_weights_that_are_not_percentages_summing_to_100_are_refused(
    primary: int, canary: int
) -> None:
    with pytest.raises(ValueError, match="summing to 100"):
        traffic(primary_revision="podinfo-00001", primary=primary, canary=canary)


def test_weights_are_read_back_from_the_block() -> None:
    block = traffic(primary_revision="podinfo-00001", primary=80, canary=20)
    assert weights_of(_service(list(reversed(block)))) == (80, 20)


@pytest.mark.parametrize(
    "block",
    [
        None,
        [],
        [{"latestRevision": True, "percent": 100}],  # Knative's default: not initialized
        [{"revisionName": "a", "percent": 50}, {"revisionName": "b", "percent": 50}],
        [{"latestRevision": True, "percent": 50, "tag": "x"}, *[{"revisionName": "a"}] * 2],
    ],
)
def test_a_block_of_another_shape_is_no_route_yet(block: list[dict[str, Any]] | None) -> None:
    assert weights_of(_service(block)) is None


def test_percents_that_do_not_sum_to_100_are_a_route_error() -> None:
    block: list[dict[str, Any]] = [
        {"latestRevision": True, "percent": 10},
        {"revisionName": "a", "percent": 10},
    ]
    with pytest.raises(RouteError, match="do not sum to 100"):
        weights_of(_service(block))


def _observed(
    spec_weights: tuple[int, int],
    status_traffic: list[dict[str, Any]] | None,
    *,
    observed_generation: int = 4,
    primary: str = "podinfo-00001",
) -> dict[str, Any]:
    """A Service at generation 4 whose spec sends `spec_weights`, and whose status says what
    Knative routes (`status_traffic`, as of `observed_generation`)."""
    block = traffic(primary_revision=primary, primary=spec_weights[0], canary=spec_weights[1])
    service = _service(block, primary=primary)
    service["metadata"]["generation"] = 4
    service["status"]["observedGeneration"] = observed_generation
    if status_traffic is not None:
        service["status"]["traffic"] = status_traffic
    return service


def _status(primary: int, canary: int, *, pinned: str = "podinfo-00001") -> list[dict[str, Any]]:
    """`status.traffic` as Knative writes it: every entry named, `latestRevision` on each."""
    return [
        {"latestRevision": True, "revisionName": "podinfo-00002", "percent": canary},
        {"latestRevision": False, "revisionName": pinned, "percent": primary},
    ]


def test_weights_are_what_knative_routes_as_its_status_says() -> None:
    """Flagger reads `status.traffic`: Knative has reconciled the spec (70/30) but still routes
    90/10 (say, the route is not programmed yet): the weights are 90/10."""
    assert observed_weights(_observed((70, 30), _status(90, 10))) == (90, 10)
    promoted = _status(100, 0, pinned="podinfo-00002")  # both entries name one Revision
    assert observed_weights(_observed((100, 0), promoted, primary="podinfo-00002")) == (100, 0)


@pytest.mark.parametrize(
    ("status_traffic", "observed_generation"),
    [
        (_status(90, 10), 3),  # Knative has not seen the controller's last patch yet
        (None, 4),  # no traffic in the status yet (nothing programmed)
        ([{"latestRevision": True, "revisionName": "podinfo-00002", "percent": 100}], 4),
        (_status(90, 10, pinned="podinfo-00000"), 4),  # routes as before the primary changed
    ],
    ids=["stale-status", "no-status-traffic", "knatives-default", "another-primary"],
)
def test_the_spec_stands_in_while_the_status_cannot_say(
    status_traffic: list[dict[str, Any]] | None, observed_generation: int
) -> None:
    service = _observed((70, 30), status_traffic, observed_generation=observed_generation)
    assert observed_weights(service) == (70, 30)


def test_released_traffic_goes_to_the_latest_revision_when_it_is_the_primary() -> None:
    promoted = _service(primary="podinfo-00002", latest="podinfo-00002")
    assert released_traffic(promoted) == [{"latestRevision": True, "percent": 100}]


def test_released_traffic_stays_on_the_primary_when_the_latest_was_never_promoted() -> None:
    assert released_traffic(_service()) == [{"revisionName": "podinfo-00001", "percent": 100}]


class _Cluster:
    """One Knative Service, read through the router's reader, patched through `merge_patch`."""

    def __init__(self, service: dict[str, Any] | None) -> None:
        self.service = service
        self.patches: list[Mapping[str, Any]] = []

    async def read(self, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any] | None:
        assert (kind, namespace, name) == (KNATIVE_SERVICE, "test", "podinfo")
        return self.service

    async def merge_patch(self, _api: object, kind: ResourceKind, name: str, **kw: Any) -> None:
        assert (kind, name, kw["namespace"]) == (KNATIVE_SERVICE, "podinfo", "test")
        self.patches.append(kw["patch"])
        assert self.service is not None
        self.service["spec"].update(kw["patch"].get("spec", {}))


@pytest.fixture
def api() -> ApiClient:
    # Never used to send anything: `merge_patch` is replaced, reads go through the reader.
    return cast(ApiClient, object())


async def test_reconcile_writes_100_0_once_and_set_weights_is_absolute(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = _Cluster(_service())
    monkeypatch.setattr(resources, "merge_patch", cluster.merge_patch)
    router = KnativeRouter(api, read=cluster.read)
    assert await router.get_weights(ROUTE) is None
    await router.reconcile(ROUTE)
    await router.reconcile(ROUTE)
    assert cluster.patches == [
        {"spec": {"traffic": traffic(primary_revision="podinfo-00001", primary=100, canary=0)}}
    ]
    await router.set_weights(ROUTE, primary=70, canary=30)
    await router.set_weights(ROUTE, primary=70, canary=30)
    assert len(cluster.patches) == 2
    assert await router.get_weights(ROUTE) == (70, 30)


async def test_an_uninitialized_or_missing_service_cannot_be_weighted(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = _Cluster(_service(primary=None))
    monkeypatch.setattr(resources, "merge_patch", cluster.merge_patch)
    router = KnativeRouter(api, read=cluster.read)
    assert await router.get_weights(ROUTE) is None
    with pytest.raises(RouteError, match=r"no flagger\.app/primary-revision annotation"):
        await router.set_weights(ROUTE, primary=90, canary=10)
    router = KnativeRouter(api, read=_Cluster(None).read)
    assert await router.get_weights(ROUTE) is None
    with pytest.raises(RouteError, match="Knative Service test/podinfo not found"):
        await router.reconcile(ROUTE)


async def test_mirroring_is_refused_naming_the_provider(api: ApiClient) -> None:
    router = KnativeRouter(api, read=_Cluster(_service()).read)
    with pytest.raises(ValueError, match=r"provider knative cannot mirror .*analysis\.mirror"):
        await router.set_weights(ROUTE, primary=100, canary=0, mirror=True)


def test_the_registry_line_says_what_knative_can_do(api: ApiClient) -> None:
    kind = router_kind("knative")
    assert kind.route == KNATIVE_SERVICE
    assert (kind.can_match, kind.can_mirror, kind.sticky, kind.progressive) == (
        False,
        False,
        False,
        True,
    )
    assert kind.applies == frozenset()
    assert kind.release is knative.release
    assert isinstance(router_for("knative", api), KnativeRouter)


async def test_release_hands_the_traffic_back_and_removes_the_annotation(
    api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    patches: list[Mapping[str, Any]] = []
    service = _service()

    async def get(_api: object, kind: ResourceKind, name: str, **_: Any) -> dict[str, Any]:
        assert (kind, name) == (KNATIVE_SERVICE, "podinfo")
        return service

    async def merge_patch(_api: object, kind: ResourceKind, name: str, **kw: Any) -> None:
        assert (kind, name) == (KNATIVE_SERVICE, "podinfo")
        patches.append(kw["patch"])

    monkeypatch.setattr(resources, "get", get)
    monkeypatch.setattr(resources, "merge_patch", merge_patch)
    said = await knative.release(api, ROUTE)
    assert "sends all traffic to revision podinfo-00001, the last promoted" in said
    assert patches == [
        {
            "metadata": {"annotations": {PRIMARY: None}},
            "spec": {"traffic": [{"revisionName": "podinfo-00001", "percent": 100}]},
        }
    ]
