"""APISIX's builtin queries: Flagger's (its APISIX observer), rendered for a Canary whose
`spec.routeRef` names the user's ApisixRoute, and what their `route` regex selects."""

from __future__ import annotations

import re

import pytest

from canary.metrics.builtin import REQUEST_DURATION, REQUEST_SUCCESS_RATE, builtin_scale, mesh_of
from canary.metrics.checks import render_query
from canary.metrics.inputs import CanaryContext, MetricSpec

PODINFO = CanaryContext(
    name="podinfo", namespace="default", target="podinfo", route="web", provider="apisix"
)
ROUTE = 'route=~"default_web-podinfo-canary_.+"'

# Flagger's apisixQueries, whitespace collapsed, rendered for default/podinfo, routeRef `web`.
FLAGGER_SUCCESS_RATE = (
    f'sum( rate( apisix_http_status{{ {ROUTE}, code!~"5.." }}[1m] ) ) / sum( rate('
    f" apisix_http_status{{ {ROUTE} }}[1m] ) ) * 100"
)
FLAGGER_DURATION = (
    'histogram_quantile( 0.99, sum( rate( apisix_http_latency_bucket{ type=~"request",'
    f" {ROUTE} }}[1m] ) ) by (le) )"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [(REQUEST_SUCCESS_RATE, FLAGGER_SUCCESS_RATE), (REQUEST_DURATION, FLAGGER_DURATION)],
)
def test_apisix_builtin_queries_are_flaggers(name: str, expected: str) -> None:
    assert render_query(MetricSpec(name=name), context=PODINFO) == expected


def test_the_latency_is_in_milliseconds_already() -> None:
    assert mesh_of("apisix") == "apisix"
    assert builtin_scale(REQUEST_DURATION, provider="apisix") == 1.0


def test_the_route_regex_selects_the_canary_copys_routes_only() -> None:
    pattern = re.compile("default_web-podinfo-canary_.+")
    assert pattern.fullmatch("default_web-podinfo-canary_method")
    assert not pattern.fullmatch("default_web_method")  # the user's own route
    assert not pattern.fullmatch("other_web-podinfo-canary_method")
