"""SMI TrafficSplit: the manifest per version, reading weights back, and provider names."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.kube.resources import CanaryRef
from canary.routers.base import RouteError, RouteRef
from canary.routers.quantity import parse_quantity
from canary.routers.registry import KNOWN_PROVIDERS, router_for, smi_version
from canary.routers.smi import SmiRouter, SmiVersion, split_weights, traffic_split

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)


@pytest.mark.parametrize(
    ("version", "canary_weight", "primary_weight"),
    [
        (SmiVersion.V1ALPHA1, "10", "90"),
        (SmiVersion.V1ALPHA2, 10, 90),
        (SmiVersion.V1ALPHA3, 10, 90),
        (SmiVersion.V1ALPHA4, 10, 90),
    ],
)
def test_traffic_split_per_version(
    version: SmiVersion, canary_weight: int | str, primary_weight: int | str
) -> None:
    split = traffic_split(version, ROUTE, primary_weight=90, canary_weight=10)
    assert split == {
        "apiVersion": f"split.smi-spec.io/{version.value}",
        "kind": "TrafficSplit",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": {
                "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
                "helm.toolkit.fluxcd.io/driftDetection": "disabled",
            },
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
        "spec": {
            "service": "podinfo",
            "backends": [
                {"service": "podinfo-canary", "weight": canary_weight},
                {"service": "podinfo-primary", "weight": primary_weight},
            ],
        },
    }


def test_a_route_without_owner_gets_no_owner_reference() -> None:
    route = RouteRef(namespace="test", apex="podinfo", owner=None)
    split = traffic_split(SmiVersion.V1ALPHA2, route, primary_weight=100, canary_weight=0)
    assert "ownerReferences" not in split["metadata"]


@pytest.mark.parametrize(("primary", "canary"), [(90, 20), (-10, 110), (101, -1), (50, 40)])
def test_weights_must_be_percentages_summing_to_100(primary: int, canary: int) -> None:
    with pytest.raises(ValueError, match="summing to 100"):
        traffic_split(SmiVersion.V1ALPHA2, ROUTE, primary_weight=primary, canary_weight=canary)


@pytest.mark.parametrize("version", list(SmiVersion))
def test_weights_round_trip_through_the_manifest(version: SmiVersion) -> None:
    for primary in (100, 95, 50, 1, 0):
        split = traffic_split(version, ROUTE, primary_weight=primary, canary_weight=100 - primary)
        assert split_weights(split, ROUTE) == (primary, 100 - primary)


def backends(*pairs: tuple[str, Any]) -> dict[str, Any]:
    return {"spec": {"backends": [{"service": s, "weight": w} for s, w in pairs]}}


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        (backends(("podinfo-canary", "100m"), ("podinfo-primary", "900m")), (90, 10)),
        (backends(("podinfo-primary", 3), ("podinfo-canary", 1)), (75, 25)),
        (backends(("podinfo-primary", 2), ("podinfo-canary", 1)), (67, 33)),
        (backends(("podinfo-primary", "1k"), ("podinfo-canary", "0")), (100, 0)),
        (backends(("podinfo-primary", 0), ("podinfo-canary", 5)), (0, 100)),
        (
            backends(("podinfo-primary", 60), ("other", 1000), ("podinfo-canary", 40)),
            (60, 40),
        ),
    ],
)
def test_weights_are_read_as_percent_of_their_sum(
    split: dict[str, Any], expected: tuple[int, int]
) -> None:
    assert split_weights(split, ROUTE) == expected


@pytest.mark.parametrize(
    ("split", "message"),
    [
        (backends(("podinfo-primary", 100)), "has no backend for podinfo-canary"),
        ({"spec": {}}, "has no backend for podinfo-canary, podinfo-primary"),
        (
            backends(("podinfo-primary", 0), ("podinfo-canary", 0)),
            "does not route to podinfo-primary and podinfo-canary",
        ),
        (
            backends(("podinfo-primary", "ninety"), ("podinfo-canary", 10)),
            "backend podinfo-primary: not a Kubernetes quantity: 'ninety'",
        ),
    ],
)
def test_a_malformed_split_is_a_route_error(split: dict[str, Any], message: str) -> None:
    with pytest.raises(RouteError) as raised:
        split_weights(split, ROUTE)
    assert str(raised.value).startswith("TrafficSplit test/podinfo")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("90", Decimal(90)),
        ("900m", Decimal("0.9")),
        ("1.5k", Decimal(1500)),
        ("1Ki", Decimal(1024)),
        ("5e2", Decimal(500)),
        ("5E-1", Decimal("0.5")),
        ("2E", Decimal(2 * 10**18)),
        ("250u", Decimal("0.00025")),
        (".5", Decimal("0.5")),
        (7, Decimal(7)),
    ],
)
def test_quantities_parse_exactly(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "m", "ninety", "1e", "1 Gi", "1KiB", "0x10"])
def test_non_quantities_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)


def test_a_boolean_is_not_a_quantity() -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity: True"):
        parse_quantity(True)  # noqa: FBT003 - the point of the test


@pytest.mark.parametrize(
    ("provider", "version"),
    [
        ("linkerd", SmiVersion.V1ALPHA2),
        ("smi:v1alpha1", SmiVersion.V1ALPHA1),
        ("smi:v1alpha2", SmiVersion.V1ALPHA2),
        ("smi:v1alpha3", SmiVersion.V1ALPHA3),
        ("smi:v1alpha4", SmiVersion.V1ALPHA4),
        ("smi:v1alpha3:linkerd", SmiVersion.V1ALPHA3),
    ],
)
def test_providers_map_to_an_explicit_smi_version(provider: str, version: SmiVersion) -> None:
    assert smi_version(provider) is version


@pytest.mark.parametrize(
    "provider", ["consul", "", "smi", "smi:v1alpha5", "smi:v1alpha2:", "Linkerd", "linkerd "]
)
def test_an_unknown_provider_is_an_error_naming_it_and_the_known_ones(provider: str) -> None:
    with pytest.raises(ValueError, match="unknown traffic provider") as raised:
        smi_version(provider)
    message = str(raised.value)
    assert repr(provider) in message
    for known in KNOWN_PROVIDERS:
        assert known in message


async def test_router_for_builds_the_smi_router_of_the_providers_version() -> None:
    async with ApiClient(Configuration()) as api:
        router = router_for("linkerd", api)
        assert isinstance(router, SmiRouter)
        assert router.version is SmiVersion.V1ALPHA2
        with pytest.raises(ValueError, match="'no-such-mesh'"):
            router_for("no-such-mesh", api)
