"""Traefik TraefikService: the manifest Flagger writes for each strategy, reading weights back,
mirroring for blue/green, and the settings it refuses."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.api.analysis import MatchRequest, StringMatch
from canary.kube.resources import CanaryRef, ResourceKind
from canary.routers.base import RouteError, RouteRef
from canary.routers.registry import router_for, router_kind
from canary.routers.settings import RouteSettings
from canary.routers.sticky import Affinity
from canary.routers.traefik import (
    TraefikRouter,
    release,
    release_patch,
    service_weights,
    traefik_service,
)

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)
SETTINGS = RouteSettings(provider="traefik", port=80)
OPT_OUT = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}


def _entry(name: str, weight: int | None = None, port: int = 80) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "namespace": "test", "port": port}
    if weight is not None:
        entry["weight"] = weight
    return entry


def test_the_initial_traefik_service_sends_everything_to_the_primary() -> None:
    manifest = traefik_service(ROUTE, SETTINGS, primary_weight=100, canary_weight=0)
    assert manifest == {
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "TraefikService",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": OPT_OUT,
            "ownerReferences": [
                {
                    "apiVersion": "canary.dev/v1alpha1",
                    "kind": "Canary",
                    "name": "podinfo",
                    "uid": "uid-1",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        # As Flagger: the canary is left out while it gets no requests.
        "spec": {"weighted": {"services": [_entry("podinfo-primary", 100)]}},
    }


def test_a_canary_step_weighs_both_services_on_the_service_port() -> None:
    settings = RouteSettings(provider="traefik", port=9898)
    manifest = traefik_service(ROUTE, settings, primary_weight=70, canary_weight=30)
    assert manifest["spec"] == {
        "weighted": {
            "services": [
                _entry("podinfo-primary", 70, port=9898),
                _entry("podinfo-canary", 30, port=9898),
            ]
        }
    }


def test_promotion_routes_everything_to_the_canary() -> None:
    manifest = traefik_service(ROUTE, SETTINGS, primary_weight=0, canary_weight=100)
    assert manifest["spec"]["weighted"]["services"] == [
        _entry("podinfo-primary", 0),
        _entry("podinfo-canary", 100),
    ]


def test_the_apex_metadata_goes_on_the_traefik_service_too() -> None:
    settings = RouteSettings(
        provider="traefik", labels={"test-label": "x"}, annotations={"test-annotation": "y"}
    )
    metadata = traefik_service(ROUTE, settings, primary_weight=100, canary_weight=0)["metadata"]
    assert metadata["labels"] == {"test-label": "x"}
    assert metadata["annotations"] == {"test-annotation": "y", **OPT_OUT}


def test_blue_green_mirroring_copies_the_primarys_requests_to_the_canary() -> None:
    manifest = traefik_service(ROUTE, SETTINGS, primary_weight=100, canary_weight=0, mirror=True)
    assert manifest["spec"] == {
        "mirroring": {
            **_entry("podinfo-primary"),
            "mirrors": [{**_entry("podinfo-canary"), "percent": 100}],
        }
    }
    assert service_weights(manifest, ROUTE) == (100, 0)


def test_mirror_weight_is_the_mirrored_percentage() -> None:
    settings = RouteSettings(provider="traefik", port=80, mirror_percent=25)
    manifest = traefik_service(ROUTE, settings, primary_weight=100, canary_weight=0, mirror=True)
    assert manifest["spec"]["mirroring"]["mirrors"][0]["percent"] == 25


def test_mirroring_while_the_canary_gets_requests_is_refused() -> None:
    with pytest.raises(ValueError, match="only while the canary gets none"):
        traefik_service(ROUTE, SETTINGS, primary_weight=90, canary_weight=10, mirror=True)


@pytest.mark.parametrize(("primary", "canary"), [(90, 20), (-10, 110), (50, 49)])
def test_weights_must_be_percentages_summing_to_100(primary: int, canary: int) -> None:
    with pytest.raises(ValueError, match="summing to 100"):
        traefik_service(ROUTE, SETTINGS, primary_weight=primary, canary_weight=canary)


@pytest.mark.parametrize("weights", [(100, 0), (90, 10), (50, 50), (0, 100)])
def test_weights_round_trip(weights: tuple[int, int]) -> None:
    manifest = traefik_service(ROUTE, SETTINGS, primary_weight=weights[0], canary_weight=weights[1])
    assert service_weights(manifest, ROUTE) == weights


def _weighted(*services: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"weighted": {"services": list(services)}}}


def test_weights_are_read_relative_to_their_sum_and_default_to_1() -> None:
    assert service_weights(
        _weighted(_entry("podinfo-primary", 3), _entry("podinfo-canary", 1)), ROUTE
    ) == (
        75,
        25,
    )
    assert service_weights(
        _weighted(_entry("podinfo-primary"), _entry("podinfo-canary")), ROUTE
    ) == (
        50,
        50,
    )


@pytest.mark.parametrize(
    "obj",
    [
        {"spec": {}},
        _weighted(_entry("other", 100)),
        _weighted(_entry("podinfo-primary", 0), _entry("podinfo-canary", 0)),
        _weighted({"name": "podinfo-primary", "kind": "TraefikService", "weight": 1}),
        {"spec": {"mirroring": {"name": "other", "port": 80}}},
    ],
)
def test_a_traefik_service_without_the_split_is_malformed(obj: dict[str, Any]) -> None:
    with pytest.raises(RouteError, match="TraefikService test/podinfo"):
        service_weights(obj, ROUTE)


def test_a_negative_weight_is_malformed() -> None:
    with pytest.raises(RouteError, match="weight -1"):
        service_weights(_weighted(_entry("podinfo-primary", -1)), ROUTE)


def test_the_router_refuses_what_a_traefik_service_cannot_route() -> None:
    match = MatchRequest(headers={"x-canary": StringMatch(exact="insider")})
    with pytest.raises(ValueError, match=r"spec\.analysis\.match .*provider traefik"):
        TraefikRouter(None, RouteSettings(provider="traefik", matches=(match,)))  # type: ignore[arg-type]
    affinity = Affinity(cookie_name="canary", interval_seconds=60)
    with pytest.raises(ValueError, match=r"spec\.analysis\.sessionAffinity .*provider traefik"):
        TraefikRouter(None, RouteSettings(provider="traefik", affinity=affinity))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"spec\.service\.port .*provider traefik"):
        TraefikRouter(None, RouteSettings(provider="traefik", port=0))  # type: ignore[arg-type]


def test_the_registry_says_what_traefik_can_do() -> None:
    kind = router_kind("traefik")
    assert kind.route is not None
    assert (kind.route.api_version, kind.route.kind, kind.route.plural) == (
        "traefik.io/v1alpha1",
        "TraefikService",
        "traefikservices",
    )
    assert kind.can_mirror
    assert not kind.can_match
    assert not kind.sticky
    assert kind.progressive


class _Reader:
    def __init__(self, stored: dict[str, Any] | None) -> None:
        self.stored = stored
        self.asked: list[tuple[str, str, str]] = []

    async def __call__(
        self, resource: ResourceKind, namespace: str, name: str
    ) -> dict[str, Any] | None:
        self.asked.append((resource.api_version, namespace, name))
        return self.stored


async def test_the_router_reads_weights_through_its_reader() -> None:
    reader = _Reader(traefik_service(ROUTE, SETTINGS, primary_weight=60, canary_weight=40))
    async with ApiClient(Configuration()) as api:
        router = router_for("traefik", api, SETTINGS, read=reader)
        assert isinstance(router, TraefikRouter)
        assert await router.get_weights(ROUTE) == (60, 40)
        reader.stored = None
        assert await router.get_weights(ROUTE) is None
    assert reader.asked == [("traefik.io/v1alpha1", "test", "podinfo")] * 2


def _stored(spec: dict[str, Any], *owners: str) -> dict[str, Any]:
    references = [
        {"apiVersion": "canary.dev/v1alpha1", "kind": "Canary", "name": "x", "uid": uid}
        | {"controller": True}
        for uid in owners
    ]
    return {
        "metadata": {"name": "podinfo", "resourceVersion": "7", "ownerReferences": references},
        "spec": spec,
    }


def test_releasing_sends_everything_to_the_apex_service_and_keeps_the_object() -> None:
    written = traefik_service(ROUTE, SETTINGS, primary_weight=80, canary_weight=20)
    patch = release_patch(_stored(written["spec"], "uid-1"), ROUTE)
    assert patch == {
        "metadata": {"resourceVersion": "7", "ownerReferences": None},
        "spec": {
            "weighted": {
                "services": [{"name": "podinfo", "namespace": "test", "weight": 100, "port": 80}]
            },
            "mirroring": None,
        },
    }


def test_a_mirroring_traefik_service_is_released_to_the_apex_too() -> None:
    written = traefik_service(ROUTE, SETTINGS, primary_weight=100, canary_weight=0, mirror=True)
    patch = release_patch(_stored(written["spec"], "uid-1"), ROUTE)
    assert patch is not None
    assert patch["spec"]["weighted"]["services"][0]["name"] == "podinfo"
    assert patch["spec"]["mirroring"] is None


def test_a_released_or_foreign_traefik_service_is_left_alone() -> None:
    apex_only = {"weighted": {"services": [{"name": "podinfo", "port": 80, "weight": 100}]}}
    assert release_patch(_stored(apex_only), ROUTE) is None
    written = traefik_service(ROUTE, SETTINGS, primary_weight=100, canary_weight=0)
    assert release_patch(_stored(written["spec"], "another-canary"), ROUTE) is None


def test_revert_on_deletion_uses_the_traefik_release() -> None:
    assert router_kind("traefik").release is release
