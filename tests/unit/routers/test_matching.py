"""A/B matches, mirroring and header filters on HTTPRoutes; HTTPRouteGroups for SMI."""

from __future__ import annotations

import pytest

from canary.api.analysis import MatchRequest, StringMatch
from canary.api.canary import HeaderOperations, Headers
from canary.kube.resources import CanaryRef
from canary.routers.base import RouteRef
from canary.routers.gatewayapi import GatewaySettings, GatewayVersion, http_route, route_weights
from canary.routers.smi import SmiVersion, check_matches, header_regex, route_group, traffic_split

ROUTE = RouteRef(namespace="test", apex="podinfo", owner=CanaryRef("podinfo", "test", "uid-1"))
INSIDER = MatchRequest(headers={"x-canary": StringMatch(exact="insider")})
BETA = MatchRequest(
    headers={"user-agent": StringMatch(prefix="Mozilla/5.0 (beta")},
    query_params={"canary": StringMatch(suffix="yes")},
)


def test_an_ab_route_weighs_the_matching_requests_and_sends_the_rest_to_the_primary() -> None:
    settings = GatewaySettings(port=80, matches=(INSIDER, BETA))
    manifest = http_route(GatewayVersion.V1, ROUTE, settings, primary_weight=0, canary_weight=100)
    matched, rest = manifest["spec"]["rules"]
    assert matched["matches"] == [
        {
            "path": {"type": "PathPrefix", "value": "/"},
            "headers": [{"type": "Exact", "name": "x-canary", "value": "insider"}],
        },
        {
            "path": {"type": "PathPrefix", "value": "/"},
            "headers": [
                {
                    "type": "RegularExpression",
                    "name": "user-agent",
                    "value": r"^Mozilla/5\.0\ \(beta.*",
                }
            ],
            "queryParams": [{"type": "RegularExpression", "name": "canary", "value": ".*yes$"}],
        },
    ]
    assert [(r["name"], r["weight"]) for r in matched["backendRefs"]] == [
        ("podinfo-primary", 0),
        ("podinfo-canary", 100),
    ]
    assert [(r["name"], r["weight"]) for r in rest["backendRefs"]] == [("podinfo-primary", 100)]
    # Reading the weights back finds the weighted rule, not the primary-only one.
    assert route_weights(manifest, ROUTE) == (0, 100)


def test_mirroring_adds_a_request_mirror_filter_to_the_weighted_rule() -> None:
    settings = GatewaySettings(port=9898, mirror_percent=25)
    manifest = http_route(
        GatewayVersion.V1, ROUTE, settings, primary_weight=100, canary_weight=0, mirror=True
    )
    [rule] = manifest["spec"]["rules"]
    assert rule["filters"] == [
        {
            "type": "RequestMirror",
            "requestMirror": {
                "backendRef": {
                    "group": "",
                    "kind": "Service",
                    "name": "podinfo-canary",
                    "port": 9898,
                },
                "percent": 25,
            },
        }
    ]
    plain = http_route(GatewayVersion.V1, ROUTE, settings, primary_weight=100, canary_weight=0)
    assert "filters" not in plain["spec"]["rules"][0]


def test_header_operations_become_header_modifier_filters_on_every_rule() -> None:
    headers = Headers(
        request=HeaderOperations(set={"x-env": "prod"}, remove=["x-debug"]),
        response=HeaderOperations(add={"x-served-by": "canary"}),
    )
    settings = GatewaySettings(port=80, headers=headers, matches=(INSIDER,))
    manifest = http_route(GatewayVersion.V1, ROUTE, settings, primary_weight=100, canary_weight=0)
    expected = [
        {
            "type": "RequestHeaderModifier",
            "requestHeaderModifier": {
                "set": [{"name": "x-env", "value": "prod"}],
                "remove": ["x-debug"],
            },
        },
        {
            "type": "ResponseHeaderModifier",
            "responseHeaderModifier": {"add": [{"name": "x-served-by", "value": "canary"}]},
        },
    ]
    assert [rule["filters"] for rule in manifest["spec"]["rules"]] == [expected, expected]


@pytest.mark.parametrize(
    ("match", "regex"),
    [
        (StringMatch(exact="a.b"), r"^a\.b$"),
        (StringMatch(prefix="v2"), "^v2"),
        (StringMatch(suffix="-beta"), r"\-beta$"),
        (StringMatch(regex="^(.*?;)?(canary=always)(;.*)?$"), "^(.*?;)?(canary=always)(;.*)?$"),
    ],
)
def test_smi_header_conditions_are_regular_expressions(match: StringMatch, regex: str) -> None:
    assert header_regex(match) == regex


def test_an_smi_ab_split_refers_to_its_http_route_group() -> None:
    group = route_group(SmiVersion.V1ALPHA4, ROUTE, [INSIDER])
    assert group["apiVersion"] == "specs.smi-spec.io/v1alpha4"
    assert group["kind"] == "HTTPRouteGroup"
    assert group["metadata"]["name"] == "podinfo"
    assert group["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert group["spec"] == {"matches": [{"name": "match-0", "headers": {"x-canary": "^insider$"}}]}
    split = traffic_split(
        SmiVersion.V1ALPHA4, ROUTE, primary_weight=0, canary_weight=100, matched=True
    )
    assert split["spec"]["matches"] == [
        {"kind": "HTTPRouteGroup", "name": "podinfo", "apiGroup": "specs.smi-spec.io"}
    ]
    unmatched = traffic_split(SmiVersion.V1ALPHA4, ROUTE, primary_weight=100, canary_weight=0)
    assert "matches" not in unmatched["spec"]


@pytest.mark.parametrize("version", [SmiVersion.V1ALPHA1, SmiVersion.V1ALPHA2])
def test_smi_before_v1alpha3_cannot_match(version: SmiVersion) -> None:
    with pytest.raises(ValueError, match="needs provider smi:v1alpha3, smi:v1alpha4 or gatewayapi"):
        check_matches(version, [INSIDER])
    with pytest.raises(ValueError, match="cannot match requests"):
        traffic_split(version, ROUTE, primary_weight=100, canary_weight=0, matched=True)


def test_smi_cannot_match_query_parameters() -> None:
    with pytest.raises(ValueError, match=r"analysis.match\[\].queryParams"):
        check_matches(SmiVersion.V1ALPHA3, [BETA])
