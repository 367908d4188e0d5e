"""APISIX: the canary copy of the user's ApisixRoute Flagger writes, reading weights back, the
settings it refuses, and the release of the copy."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.api.analysis import MatchRequest, StringMatch
from canary.kube.resources import CanaryRef, ResourceKind
from canary.routers.apisix import (
    ApisixRouter,
    canary_route,
    canary_route_name,
    route_weights,
)
from canary.routers.base import RouteError, RouteRef
from canary.routers.registry import router_for, router_kind
from canary.routers.settings import RouteSettings

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)
REF = {"apiVersion": "apisix.apache.org/v2", "kind": "ApisixRoute", "name": "podinfo"}
SETTINGS = RouteSettings(provider="apisix", fields={"spec.routeRef": REF})
OPT_OUT = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}
# The user's ApisixRoute, as in Flagger's APISIX tutorial.
ORIGINAL: dict[str, Any] = {
    "apiVersion": "apisix.apache.org/v2",
    "kind": "ApisixRoute",
    "metadata": {
        "name": "podinfo",
        "namespace": "test",
        "labels": {"team": "web"},
        "annotations": {
            "note": "mine",
            "kubectl.kubernetes.io/last-applied-configuration": "{}",
        },
    },
    "spec": {
        "ingressClassName": "apisix",
        "http": [
            {
                "name": "other",
                "match": {"paths": ["/other"]},
                "backends": [{"serviceName": "other", "servicePort": 80}],
            },
            {
                "name": "rule1",
                "match": {"hosts": ["app.example.com"], "paths": ["/*"], "methods": ["GET"]},
                "plugins": [{"name": "prometheus", "enable": True}],
                "backends": [
                    {"serviceName": "podinfo", "servicePort": 80, "resolveGranularity": "service"}
                ],
            },
        ],
    },
}


def test_the_copy_sends_the_apex_rule_to_primary_and_canary_at_top_priority() -> None:
    manifest = canary_route(ORIGINAL, ROUTE, primary_weight=90, canary_weight=10)
    assert manifest == {
        "apiVersion": "apisix.apache.org/v2",
        "kind": "ApisixRoute",
        "metadata": {
            "name": "podinfo-podinfo-canary",
            "namespace": "test",
            "labels": {"team": "web"},
            "annotations": {"note": "mine", **OPT_OUT},
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
            "ingressClassName": "apisix",
            "http": [
                {
                    "name": "rule1",
                    "match": {
                        "hosts": ["app.example.com"],
                        "paths": ["/*"],
                        "methods": ["GET"],
                    },
                    "plugins": [{"name": "prometheus", "enable": True}],
                    "priority": 10000,
                    "backends": [
                        {
                            "serviceName": "podinfo-primary",
                            "servicePort": 80,
                            "resolveGranularity": "service",
                            "weight": 90,
                        },
                        {
                            "serviceName": "podinfo-canary",
                            "servicePort": 80,
                            "resolveGranularity": "service",
                            "weight": 10,
                        },
                    ],
                }
            ],
        },
    }
    assert ORIGINAL["spec"]["http"][1]["backends"][0]["serviceName"] == "podinfo"  # untouched


def test_the_copy_is_named_after_the_route_ref_and_the_apex() -> None:
    assert canary_route_name("web", "podinfo") == "web-podinfo-canary"


@pytest.mark.parametrize("weights", [(100, 0), (90, 10), (50, 50), (0, 100)])
def test_weights_round_trip(weights: tuple[int, int]) -> None:
    manifest = canary_route(ORIGINAL, ROUTE, primary_weight=weights[0], canary_weight=weights[1])
    assert route_weights(manifest, ROUTE) == weights


def test_a_rule_with_several_backends_is_refused_naming_it() -> None:
    original = copy.deepcopy(ORIGINAL)
    original["spec"]["http"][1]["backends"].append({"serviceName": "extra", "servicePort": 80})
    with pytest.raises(RouteError, match="http rule 'rule1' has 2 backends"):
        canary_route(original, ROUTE, primary_weight=100, canary_weight=0)


def test_a_route_without_the_apex_service_is_refused_naming_it() -> None:
    original = copy.deepcopy(ORIGINAL)
    del original["spec"]["http"][1]
    with pytest.raises(RouteError, match=r"test/podinfo \(spec.routeRef\) has no http rule"):
        canary_route(original, ROUTE, primary_weight=100, canary_weight=0)


def test_weights_missing_or_zero_are_malformed_or_default() -> None:
    manifest = canary_route(ORIGINAL, ROUTE, primary_weight=100, canary_weight=0)
    for backend in manifest["spec"]["http"][0]["backends"]:
        del backend["weight"]  # APISIX's default weight is 100 each
    assert route_weights(manifest, ROUTE) == (50, 50)
    for backend in manifest["spec"]["http"][0]["backends"]:
        backend["weight"] = 0
    with pytest.raises(RouteError, match="sends to neither"):
        route_weights(manifest, ROUTE)


def test_the_router_needs_a_route_ref_and_refuses_what_it_cannot_route() -> None:
    with pytest.raises(ValueError, match=r"spec\.routeRef is required with provider apisix"):
        ApisixRouter(None, RouteSettings(provider="apisix"))  # type: ignore[arg-type]
    wrong = {"spec.routeRef": {"kind": "Ingress", "name": "podinfo"}}
    with pytest.raises(ValueError, match=r"spec\.routeRef\.kind must be ApisixRoute"):
        ApisixRouter(None, RouteSettings(provider="apisix", fields=wrong))  # type: ignore[arg-type]
    match = MatchRequest(headers={"x-canary": StringMatch(exact="insider")})
    matched = RouteSettings(provider="apisix", fields={"spec.routeRef": REF}, matches=(match,))
    with pytest.raises(ValueError, match=r"spec\.analysis\.match .*provider apisix"):
        ApisixRouter(None, matched)  # type: ignore[arg-type]


def test_the_registry_says_what_apisix_can_do() -> None:
    kind = router_kind("apisix")
    assert kind.route is None  # the copy is not named after the apex
    assert kind.release is not None
    assert (kind.can_match, kind.can_mirror, kind.sticky) == (False, False, False)


class _Reader:
    def __init__(self, stored: dict[str, dict[str, Any]]) -> None:
        self.stored = stored

    async def __call__(
        self, resource: ResourceKind, namespace: str, name: str
    ) -> dict[str, Any] | None:
        assert (resource.api_version, resource.plural) == ("apisix.apache.org/v2", "apisixroutes")
        return self.stored.get(f"{namespace}/{name}")


async def test_the_router_reads_the_copys_weights_and_needs_the_original() -> None:
    written = canary_route(ORIGINAL, ROUTE, primary_weight=70, canary_weight=30)
    reader = _Reader({"test/podinfo-podinfo-canary": written, "test/podinfo": ORIGINAL})
    async with ApiClient(Configuration()) as api:
        router = router_for("apisix", api, SETTINGS, read=reader)
        assert isinstance(router, ApisixRouter)
        assert await router.get_weights(ROUTE) == (70, 30)
        reader.stored = {"test/podinfo": ORIGINAL}
        assert await router.get_weights(ROUTE) is None
        # Without the original the Canary cannot be routed: said when reading the weights.
        reader.stored = {"test/podinfo-podinfo-canary": written}
        with pytest.raises(RouteError, match=r"ApisixRoute test/podinfo \(spec.routeRef\) does"):
            await router.get_weights(ROUTE)
        with pytest.raises(RouteError, match=r"ApisixRoute test/podinfo \(spec.routeRef\) does"):
            await router.set_weights(ROUTE, primary=100, canary=0)
        with pytest.raises(ValueError, match="cannot mirror"):
            await router.set_weights(ROUTE, primary=100, canary=0, mirror=True)
