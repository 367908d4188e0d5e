"""Istio's builtin PromQL: the queries Flagger's Istio observer sends, and who reads it."""

from __future__ import annotations

import pytest

from canary.metrics.builtin import (
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    builtin_query,
    builtin_scale,
    mesh_of,
)
from canary.metrics.checks import render_query
from canary.metrics.inputs import CanaryContext, MetricSpec

# Flagger's pkg/metrics/observers/istio_test.go expectations, without their leading space.
_SELECTED = (
    'reporter="destination", destination_workload_namespace="default",'
    ' destination_workload=~"podinfo"'
)
FLAGGER_SUCCESS_RATE = (
    f'sum( rate( istio_requests_total{{ {_SELECTED}, response_code!~"5.*" }}[1m] ) ) /'
    f" sum( rate( istio_requests_total{{ {_SELECTED} }}[1m] ) ) * 100"
)
FLAGGER_DURATION = (
    "histogram_quantile( 0.99, sum( rate( istio_request_duration_milliseconds_bucket{"
    f" {_SELECTED} }}[1m] ) ) by (le) )"
)
PODINFO = CanaryContext(name="podinfo", namespace="default", target="podinfo", provider="istio")


@pytest.mark.parametrize(
    ("name", "expected"),
    [(REQUEST_SUCCESS_RATE, FLAGGER_SUCCESS_RATE), (REQUEST_DURATION, FLAGGER_DURATION)],
)
def test_istio_builtin_queries_match_flagger_exactly(name: str, expected: str) -> None:
    assert render_query(MetricSpec(name=name), context=PODINFO) == expected


def test_istio_reads_istio_metrics_in_milliseconds() -> None:
    assert mesh_of("istio") == "istio"
    assert builtin_scale(REQUEST_DURATION, provider="istio") == 1.0
    assert "istio_requests_total" in builtin_query(REQUEST_SUCCESS_RATE, provider="istio")


def test_the_interval_namespace_and_target_are_used() -> None:
    context = CanaryContext(name="web", namespace="shop", target="web-app", provider="istio")
    query = render_query(MetricSpec(name=REQUEST_SUCCESS_RATE, interval="30s"), context=context)
    assert 'destination_workload_namespace="shop"' in query
    assert 'destination_workload=~"web-app"' in query
    assert "[30s]" in query
