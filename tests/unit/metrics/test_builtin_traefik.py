"""Traefik's builtin queries: Flagger's (its Traefik observer), rendered for a Canary, and what
their `service` regex selects."""

from __future__ import annotations

import re

import pytest

from canary.metrics.builtin import REQUEST_DURATION, REQUEST_SUCCESS_RATE, builtin_scale, mesh_of
from canary.metrics.checks import render_query
from canary.metrics.inputs import CanaryContext, MetricSpec

PODINFO = CanaryContext(name="podinfo", namespace="default", target="podinfo", provider="traefik")
SERVICE = 'service=~"default-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd"'

# Flagger's traefikQueries, whitespace collapsed, rendered for default/podinfo with `1m`.
FLAGGER_SUCCESS_RATE = (
    f'sum( rate( traefik_service_request_duration_seconds_bucket{{ {SERVICE}, code!~"5..",'
    f' le="+Inf" }}[1m] ) ) / sum( rate( traefik_service_request_duration_seconds_bucket{{'
    f' {SERVICE}, le="+Inf" }}[1m] ) ) * 100'
)
FLAGGER_DURATION = (
    "histogram_quantile( 0.99, sum( rate( traefik_service_request_duration_seconds_bucket{"
    f" {SERVICE} }}[1m] ) ) by (le) ) * 1000"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [(REQUEST_SUCCESS_RATE, FLAGGER_SUCCESS_RATE), (REQUEST_DURATION, FLAGGER_DURATION)],
)
def test_traefik_builtin_queries_are_flaggers(name: str, expected: str) -> None:
    assert render_query(MetricSpec(name=name), context=PODINFO) == expected


def test_the_p99_is_turned_into_milliseconds_by_the_query_itself() -> None:
    assert mesh_of("traefik") == "traefik"
    assert builtin_scale(REQUEST_DURATION, provider="traefik") == 1.0


def test_the_service_regex_selects_the_canary_service_only() -> None:
    pattern = re.compile("default-podinfo-canary-[0-9a-zA-Z-]+@kubernetescrd")
    assert pattern.fullmatch("default-podinfo-canary-80@kubernetescrd")
    assert pattern.fullmatch("default-podinfo-canary-http@kubernetescrd")
    assert not pattern.fullmatch("default-podinfo-primary-80@kubernetescrd")
    assert not pattern.fullmatch("default-podinfo-80@kubernetescrd")
    assert not pattern.fullmatch("other-podinfo-canary-80@kubernetescrd")
