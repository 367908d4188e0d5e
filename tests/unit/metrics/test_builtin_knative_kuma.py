"""Knative's and Kuma's builtin queries: Flagger's, over the Envoy series each reports."""

from __future__ import annotations

import pytest

from canary.metrics.builtin import REQUEST_DURATION, REQUEST_SUCCESS_RATE, mesh_of
from canary.metrics.checks import render_query
from canary.metrics.inputs import CanaryContext, MetricSpec

# Flagger's pkg/metrics/observers/knative_test.go expectations (Route "podinfo-00001"), without
# the leading space Flagger's whitespace collapsing leaves.
FLAGGER_SUCCESS_RATE = (
    'sum( rate( envoy_cluster_upstream_rq{ envoy_cluster_name=~"default/podinfo-00001",'
    ' envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{'
    ' envoy_cluster_name=~"default/podinfo-00001", }[1m] ) ) * 100'
)
FLAGGER_DURATION = (
    "histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{"
    ' envoy_cluster_name=~"default/podinfo-00001", }[1m] ) ) by (le) )'
)
CONTEXT = CanaryContext(
    name="podinfo",
    namespace="default",
    target="podinfo",
    route="podinfo-00001",
    provider="knative",
    target_kind="Service",
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [(REQUEST_SUCCESS_RATE, FLAGGER_SUCCESS_RATE), (REQUEST_DURATION, FLAGGER_DURATION)],
)
def test_knative_builtin_queries_match_flagger_exactly(name: str, expected: str) -> None:
    assert render_query(MetricSpec(name=name), context=CONTEXT) == expected


def test_knative_reads_its_own_table() -> None:
    assert mesh_of("knative") == "knative"


# Flagger's pkg/metrics/observers/kuma_test.go expectations, without the leading space.
KUMA_SUCCESS_RATE = (
    'sum( rate( envoy_cluster_upstream_rq{ service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+",'
    ' envoy_response_code!~"5.*" }[1m] ) ) / sum( rate( envoy_cluster_upstream_rq{'
    ' service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+", }[1m] ) ) * 100'
)
KUMA_DURATION = (
    "histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{"
    ' service=~"podinfo-canary_default_svc_[0-9a-zA-Z-]+", }[1m] ) ) by (le) )'
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [(REQUEST_SUCCESS_RATE, KUMA_SUCCESS_RATE), (REQUEST_DURATION, KUMA_DURATION)],
)
def test_kuma_builtin_queries_match_flagger_exactly(name: str, expected: str) -> None:
    context = CanaryContext(name="podinfo", namespace="default", target="podinfo", provider="kuma")
    assert render_query(MetricSpec(name=name), context=context) == expected
