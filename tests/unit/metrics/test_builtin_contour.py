"""Contour's builtin queries: Flagger's, rendered (pkg/metrics/observers/contour_test.go)."""

from __future__ import annotations

import re

import pytest

from canary.metrics.builtin import REQUEST_DURATION, REQUEST_SUCCESS_RATE, builtin_scale, mesh_of
from canary.metrics.checks import render_query
from canary.metrics.inputs import CanaryContext, MetricSpec

# Flagger's expectations for podinfo in default with a 1m interval, less the leading space.
_CLUSTER = 'envoy_cluster_name=~"default_podinfo-canary_[0-9a-zA-Z-]+"'
FLAGGER_SUCCESS_RATE = (
    f'sum( rate( envoy_cluster_upstream_rq{{ {_CLUSTER}, envoy_response_code!~"5.*" }}[1m] ) )'
    f" / sum( rate( envoy_cluster_upstream_rq{{ {_CLUSTER}, }}[1m] ) ) * 100"
)
FLAGGER_DURATION = (
    f"histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{{ {_CLUSTER}, }}"
    "[1m] ) ) by (le) )"
)
PODINFO = CanaryContext(name="podinfo", namespace="default", target="podinfo", provider="contour")


@pytest.mark.parametrize(
    ("name", "expected"),
    [(REQUEST_SUCCESS_RATE, FLAGGER_SUCCESS_RATE), (REQUEST_DURATION, FLAGGER_DURATION)],
)
def test_contour_builtin_queries_match_flagger_exactly(name: str, expected: str) -> None:
    assert mesh_of("contour") == "contour"
    assert render_query(MetricSpec(name=name), context=PODINFO) == expected
    assert builtin_scale(name, provider="contour") == 1  # the histogram is in milliseconds


def test_the_cluster_is_the_apex_services_canary_when_service_name_is_set() -> None:
    context = CanaryContext(
        name="web", namespace="shop", target="web-app", service="web", provider="contour"
    )
    query = render_query(MetricSpec(name=REQUEST_SUCCESS_RATE, interval="30s"), context=context)
    found = re.search(r'envoy_cluster_name=~"([^"]+)"', query)
    assert found is not None
    pattern = re.compile(found.group(1))
    assert pattern.fullmatch("shop_web-canary_9898")  # what Contour names the cluster
    assert not pattern.fullmatch("shop_web-primary_9898")
    assert not pattern.fullmatch("shop_web-app-canary_9898")
