"""Gateway API HTTPRoute: the manifest per version, reading weights back, and provider names."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.kube.resources import CanaryRef, ResourceKind
from canary.routers.base import RouteError, RouteRef
from canary.routers.gatewayapi import (
    GatewayApiRouter,
    GatewaySettings,
    GatewayVersion,
    gateway_parent_ref,
    http_route,
    mesh_parent_ref,
    route_weights,
)
from canary.routers.registry import KNOWN_PROVIDERS, gateway_version, router_for, smi_version
from canary.routers.settings import RouteSettings
from canary.routers.smi import SmiRouter

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)
GATEWAY = gateway_parent_ref("public", namespace="gateways")
OPT_OUT = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}


def _backend(name: str, weight: int) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": name, "port": 9898, "weight": weight}


@pytest.mark.parametrize("version", list(GatewayVersion))
def test_http_route_per_version(version: GatewayVersion) -> None:
    route = http_route(
        version,
        ROUTE,
        GatewaySettings(port=9898, parent_refs=(GATEWAY,), hostnames=("app.example.com",)),
        primary_weight=90,
        canary_weight=10,
    )
    assert route == {
        "apiVersion": f"gateway.networking.k8s.io/{version.value}",
        "kind": "HTTPRoute",
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
        "spec": {
            "parentRefs": [
                {
                    "group": "gateway.networking.k8s.io",
                    "kind": "Gateway",
                    "name": "public",
                    "namespace": "gateways",
                }
            ],
            "hostnames": ["app.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [
                        _backend("podinfo-primary", 90),
                        _backend("podinfo-canary", 10),
                    ],
                }
            ],
        },
    }


def test_without_gateways_the_route_attaches_to_the_apex_service() -> None:
    route = RouteRef(namespace="test", apex="podinfo", owner=None)
    manifest = http_route(
        GatewayVersion.V1,
        route,
        GatewaySettings(port=80),
        primary_weight=100,
        canary_weight=0,
    )
    assert manifest["spec"]["parentRefs"] == [
        {"group": "", "kind": "Service", "name": "podinfo", "port": 80}
    ]
    assert manifest["spec"]["parentRefs"] == [mesh_parent_ref(route, 80)]
    assert "hostnames" not in manifest["spec"]
    assert "ownerReferences" not in manifest["metadata"]


@pytest.mark.parametrize(
    ("version", "timeouts"),
    [(GatewayVersion.V1, {"request": "30s"}), (GatewayVersion.V1BETA1, None)],
)
def test_the_request_timeout_is_set_on_v1_only(
    version: GatewayVersion, timeouts: dict[str, str] | None
) -> None:
    manifest = http_route(
        version,
        ROUTE,
        GatewaySettings(port=80, parent_refs=(GATEWAY,), timeout="30s"),
        primary_weight=100,
        canary_weight=0,
    )
    assert manifest["spec"]["rules"][0].get("timeouts") == timeouts


@pytest.mark.parametrize(("primary", "canary"), [(101, -1), (50, 40), (-10, 110)])
def test_weights_must_be_percentages_summing_to_100(primary: int, canary: int) -> None:
    with pytest.raises(ValueError, match="summing to 100"):
        http_route(
            GatewayVersion.V1,
            ROUTE,
            GatewaySettings(port=80),
            primary_weight=primary,
            canary_weight=canary,
        )


def test_a_port_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="port"):
        http_route(
            GatewayVersion.V1,
            ROUTE,
            GatewaySettings(port=0),
            primary_weight=100,
            canary_weight=0,
        )


@pytest.mark.parametrize("weights", [(100, 0), (90, 10), (50, 50), (1, 99), (0, 100)])
def test_weights_round_trip(weights: tuple[int, int]) -> None:
    primary, canary = weights
    manifest = http_route(
        GatewayVersion.V1,
        ROUTE,
        GatewaySettings(port=80),
        primary_weight=primary,
        canary_weight=canary,
    )
    assert route_weights(manifest, ROUTE) == weights


def _with_rules(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"rules": list(rules)}}


def test_weights_are_read_relative_to_their_sum_and_default_to_1() -> None:
    relative = _with_rules(
        {"backendRefs": [_backend("podinfo-canary", 250), _backend("podinfo-primary", 750)]}
    )
    assert route_weights(relative, ROUTE) == (75, 25)
    unweighted = _with_rules(
        {"backendRefs": [{"name": "podinfo-primary"}, {"name": "podinfo-canary"}]}
    )
    assert route_weights(unweighted, ROUTE) == (50, 50)


def test_the_weighted_rule_is_the_one_with_both_services() -> None:
    route = _with_rules(
        {"backendRefs": [_backend("podinfo-canary", 100)]},
        {"backendRefs": [_backend("other-primary", 1), _backend("other-canary", 1)]},
        {"backendRefs": [_backend("podinfo-primary", 80), _backend("podinfo-canary", 20)]},
    )
    assert route_weights(route, ROUTE) == (80, 20)


@pytest.mark.parametrize(
    "route",
    [
        {},
        _with_rules({"backendRefs": [_backend("podinfo-primary", 100)]}),
        _with_rules(
            {
                "backendRefs": [
                    _backend("podinfo-primary", 90),
                    _backend("podinfo-canary", 10),
                    _backend("podinfo-extra", 0),
                ]
            }
        ),
        _with_rules(
            {"backendRefs": [_backend("podinfo-primary", 0), _backend("podinfo-canary", 0)]}
        ),
        _with_rules(
            {"backendRefs": [_backend("podinfo-primary", 90), _backend("podinfo-canary", "10")]}  # type: ignore[arg-type]
        ),
        _with_rules(
            {
                "backendRefs": [
                    _backend("podinfo-primary", 90),
                    {**_backend("podinfo-canary", 10), "kind": "ServiceImport", "group": "x"},
                ]
            }
        ),
    ],
)
def test_a_route_without_the_split_is_malformed(route: dict[str, Any]) -> None:
    with pytest.raises(RouteError, match="HTTPRoute test/podinfo"):
        route_weights(route, ROUTE)


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
    stored = http_route(
        GatewayVersion.V1BETA1,
        ROUTE,
        GatewaySettings(port=80),
        primary_weight=70,
        canary_weight=30,
    )
    reader = _Reader(stored)
    async with ApiClient(Configuration()) as api:
        router = GatewayApiRouter(
            api, GatewayVersion.V1BETA1, GatewaySettings(port=80), read=reader
        )
        assert await router.get_weights(ROUTE) == (70, 30)
        reader.stored = None
        assert await router.get_weights(ROUTE) is None
    assert reader.asked == [("gateway.networking.k8s.io/v1beta1", "test", "podinfo")] * 2


@pytest.mark.parametrize(
    ("provider", "version"),
    [("gatewayapi:v1", GatewayVersion.V1), ("gatewayapi:v1beta1", GatewayVersion.V1BETA1)],
)
async def test_router_for_builds_the_gateway_router_with_its_settings(
    provider: str, version: GatewayVersion
) -> None:
    assert provider in KNOWN_PROVIDERS
    assert gateway_version(provider) is version
    settings = RouteSettings(
        provider=provider,
        port=9898,
        gateway_refs=(GATEWAY,),
        hosts=("a.example",),
        timeout="1m30s",
    )
    async with ApiClient(Configuration()) as api:
        router = router_for(provider, api, settings)
        assert isinstance(router, GatewayApiRouter)
        assert router.version is version
        assert router.settings.port == 9898
        assert router.settings.parent_refs == (GATEWAY,)
        assert router.settings.hostnames == ("a.example",)
        assert router.settings.timeout == "90s"  # in the Gateway API's form


async def test_an_unknown_gateway_version_is_an_error() -> None:
    async with ApiClient(Configuration()) as api:
        with pytest.raises(ValueError, match="unknown traffic provider 'gatewayapi:v2'"):
            router_for("gatewayapi:v2", api)
        # SMI providers ignore the Gateway API settings.
        router = router_for("linkerd", api, RouteSettings(provider="linkerd", hosts=("a",)))
        assert isinstance(router, SmiRouter)


def test_a_gateway_provider_is_not_an_smi_version() -> None:
    assert gateway_version("linkerd") is None
    with pytest.raises(ValueError, match="HTTPRoute, not SMI"):
        smi_version("gatewayapi:v1beta1")


def test_the_apex_metadata_goes_on_the_http_route_too() -> None:
    settings = GatewaySettings(port=9898, labels={"team": "web"}, annotations={"note": "apex"})
    manifest = http_route(GatewayVersion.V1, ROUTE, settings, primary_weight=100, canary_weight=0)
    assert manifest["metadata"]["labels"] == {"team": "web"}
    assert manifest["metadata"]["annotations"]["note"] == "apex"
    assert (
        manifest["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/reconcile"] == "disabled"
    )
