"""Gloo Edge: the Upstreams and the RouteTable per strategy (canary weights, A/B, blue/green),
spec.upstreamRef's settings copied, refusals naming the field, weights read back, and the
revertOnDeletion hand-back."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.api.analysis import MatchRequest, StringMatch
from canary.kube.resources import CanaryRef
from canary.routers.base import RouteError, RouteRef
from canary.routers.gloo import (
    GlooRouter,
    GlooSettings,
    gloo_settings,
    release_patch,
    route_table,
    table_weights,
    upstream,
    upstream_name,
)
from canary.routers.registry import router_for, router_kind
from canary.routers.settings import ObjectRef, RouteSettings

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)


def _destination(name: str, weight: int) -> dict[str, Any]:
    return {"destination": {"upstream": {"name": name, "namespace": "test"}}, "weight": weight}


def test_the_route_table_splits_between_the_two_upstreams_as_flagger_writes_it() -> None:
    table = route_table(ROUTE, GlooSettings(port=9898), primary_weight=90, canary_weight=10)
    assert table["apiVersion"] == "gateway.solo.io/v1"
    assert table["kind"] == "RouteTable"
    assert table["metadata"]["name"] == "podinfo"
    assert table["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert table["spec"] == {
        "routes": [
            {
                "inheritablePathMatchers": True,
                "routeAction": {
                    "multi": {
                        "destinations": [
                            _destination("test-podinfo-primaryupstream-9898", 90),
                            _destination("test-podinfo-canaryupstream-9898", 10),
                        ]
                    }
                },
            }
        ]
    }
    assert table_weights(table, ROUTE, 9898) == (90, 10)


def test_blue_green_switches_at_once() -> None:
    settings = GlooSettings(port=80)
    after = route_table(ROUTE, settings, primary_weight=0, canary_weight=100)
    assert table_weights(after, ROUTE, 80) == (0, 100)


def test_upstreams_point_at_the_services_and_take_the_referenced_settings() -> None:
    config = {
        "kube": {"serviceName": "other", "servicePort": 1},
        "loadBalancerConfig": {"roundRobin": {"slowStartConfig": {"minWeightPercent": 20}}},
        "useHttp2": True,
        "discoveryMetadata": {"labels": {"x": "y"}},
    }
    made = upstream(ROUTE, 9898, canary=True, selector={"app": "podinfo"}, config=config)
    assert made["apiVersion"] == "gloo.solo.io/v1"
    assert made["metadata"]["name"] == "test-podinfo-canaryupstream-9898"
    assert made["metadata"]["ownerReferences"][0]["kind"] == "Canary"
    assert made["spec"] == {
        "loadBalancerConfig": {"roundRobin": {"slowStartConfig": {"minWeightPercent": 20}}},
        "useHttp2": True,
        "kube": {
            "serviceName": "podinfo-canary",
            "serviceNamespace": "test",
            "servicePort": 9898,
            "selector": {"app": "podinfo"},
        },
    }
    assert upstream_name(ROUTE, 80, canary=False) == "test-podinfo-primaryupstream-80"


def test_ab_testing_has_one_route_per_match_then_the_rest_to_the_primary() -> None:
    matches = (
        MatchRequest(headers={"x-canary": StringMatch(exact="insider")}),
        MatchRequest(
            headers={"user-agent": StringMatch(regex=".*Firefox.*")},
            query_params={"beta": StringMatch(prefix="yes")},
        ),
    )
    table = route_table(
        ROUTE, GlooSettings(port=80, matches=matches), primary_weight=0, canary_weight=100
    )
    routes = table["spec"]["routes"]
    assert [r.get("matchers") for r in routes] == [
        [{"headers": [{"name": "x-canary", "value": "insider"}]}],
        [
            {
                "headers": [{"name": "user-agent", "value": ".*Firefox.*", "regex": True}],
                "queryParameters": [{"name": "beta", "value": "yes.*", "regex": True}],
            }
        ],
        None,
    ]
    weights = [[d["weight"] for d in r["routeAction"]["multi"]["destinations"]] for r in routes]
    assert weights == [[0, 100], [0, 100], [100, 0]]
    assert table_weights(table, ROUTE, 80) == (0, 100)


def test_upstream_ref_is_read_from_the_canary_and_must_name_an_upstream() -> None:
    ref = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "cfg", "namespace": "gloo"}
    settings = gloo_settings(
        RouteSettings(provider="gloo", port=80, fields={"spec.upstreamRef": ref})
    )
    assert settings.upstream_ref == ObjectRef("gloo.solo.io/v1", "Upstream", "cfg")
    assert settings.upstream_ref_namespace == "gloo"
    wrong = {**ref, "kind": "Service"}
    with pytest.raises(ValueError, match=r"spec\.upstreamRef with provider gloo"):
        gloo_settings(RouteSettings(provider="gloo", fields={"spec.upstreamRef": wrong}))


def test_capabilities_refuse_mirroring_and_sticky_sessions() -> None:
    kind = router_kind("gloo")
    assert kind.route is not None
    assert (kind.route.api_version, kind.route.kind) == ("gateway.solo.io/v1", "RouteTable")
    assert kind.can_match
    assert not kind.can_mirror
    assert not kind.sticky
    assert kind.applies == {"spec.upstreamRef"}
    assert kind.release is not None


@pytest.mark.parametrize(
    "table",
    [
        {"spec": {}},
        {"spec": {"routes": [{"routeAction": {"multi": {"destinations": []}}}]}},
        {
            "spec": {
                "routes": [
                    {
                        "routeAction": {
                            "multi": {
                                "destinations": [
                                    _destination("test-podinfo-primaryupstream-80", 0),
                                    _destination("test-podinfo-canaryupstream-80", 0),
                                ]
                            }
                        }
                    }
                ]
            }
        },
    ],
)
def test_a_route_table_without_the_split_is_malformed(table: dict[str, Any]) -> None:
    with pytest.raises(RouteError, match="RouteTable test/podinfo"):
        table_weights(table, ROUTE, 80)


def test_the_release_sends_every_route_to_the_apex_service_and_drops_the_owner() -> None:
    match = MatchRequest(headers={"x-canary": StringMatch(exact="insider")})
    settings = GlooSettings(port=9898, matches=(match,))
    table = route_table(ROUTE, settings, primary_weight=0, canary_weight=100)
    patch = release_patch(table, ROUTE)
    assert patch is not None
    assert patch["metadata"] == {"ownerReferences": []}
    apex = {"single": {"kube": {"ref": {"name": "podinfo", "namespace": "test"}, "port": 9898}}}
    assert [r["routeAction"] for r in patch["spec"]["routes"]] == [apex, apex]
    assert patch["spec"]["routes"][0]["matchers"] == table["spec"]["routes"][0]["matchers"]
    assert release_patch({**table, **patch}, ROUTE) is None, "released once"


async def test_router_for_builds_the_gloo_router_and_refuses_mirroring() -> None:
    async with ApiClient(Configuration()) as api:
        router = router_for("gloo", api, RouteSettings(provider="gloo", port=9898))
        assert isinstance(router, GlooRouter)
        assert router.settings == GlooSettings(port=9898)
        with pytest.raises(ValueError, match="does not mirror"):
            await router.set_weights(ROUTE, primary=100, canary=0, mirror=True)
