"""Gloo's builtin queries: Flagger's, rendered (pkg/metrics/observers/gloo_test.go)."""

from __future__ import annotations

import re

import pytest

from canary.metrics.builtin import REQUEST_DURATION, REQUEST_SUCCESS_RATE, builtin_scale, mesh_of
from canary.metrics.checks import render_query
from canary.metrics.inputs import CanaryContext, MetricSpec

_CLUSTER = 'envoy_cluster_name=~"default-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"'
FLAGGER_SUCCESS_RATE = (
    f'sum( rate( envoy_cluster_upstream_rq{{ {_CLUSTER}, envoy_response_code!~"5.*" }}[1m] ) )'
    f" / sum( rate( envoy_cluster_upstream_rq{{ {_CLUSTER}, }}[1m] ) ) * 100"
)
FLAGGER_DURATION = (
    f"histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{{ {_CLUSTER}, }}"
    "[1m] ) ) by (le) )"
)
PODINFO = CanaryContext(name="podinfo", namespace="default", target="podinfo", provider="gloo")


@pytest.mark.parametrize(
    ("name", "expected"),
    [(REQUEST_SUCCESS_RATE, FLAGGER_SUCCESS_RATE), (REQUEST_DURATION, FLAGGER_DURATION)],
)
def test_gloo_builtin_queries_match_flagger_exactly(name: str, expected: str) -> None:
    assert mesh_of("gloo") == "gloo"
    assert render_query(MetricSpec(name=name), context=PODINFO) == expected
    assert builtin_scale(name, provider="gloo") == 1  # the histogram is in milliseconds


def test_the_cluster_is_the_apex_services_canary_upstream() -> None:
    context = CanaryContext(
        name="web", namespace="shop", target="web-app", service="web", provider="gloo"
    )
    query = render_query(MetricSpec(name=REQUEST_SUCCESS_RATE), context=context)
    found = re.search(r'envoy_cluster_name=~"([^"]+)"', query)
    assert found is not None
    pattern = re.compile(found.group(1))
    assert pattern.fullmatch("shop-web-canaryupstream-9898_shop")  # what Gloo names it
    assert not pattern.fullmatch("shop-web-primaryupstream-9898_shop")
