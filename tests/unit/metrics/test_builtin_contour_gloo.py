"""Contour's and Gloo's builtin queries: Flagger's, rendered (pkg/metrics/observers/
contour_test.go, gloo_test.go).

Both read Envoy's cluster statistics of the canary's cluster, selected by name: Contour names it
`<namespace>_<service>-canary_<port>`, Gloo `<namespace>-<service>-canaryupstream-<port>_<ns>`.
"""

from __future__ import annotations

import re

import pytest

from canary.metrics.builtin import REQUEST_DURATION, REQUEST_SUCCESS_RATE, builtin_scale, mesh_of
from canary.metrics.checks import render_query
from canary.metrics.inputs import CanaryContext, MetricSpec

# Flagger's cluster selectors for podinfo in default.
CLUSTERS = {
    "contour": 'envoy_cluster_name=~"default_podinfo-canary_[0-9a-zA-Z-]+"',
    "gloo": 'envoy_cluster_name=~"default-podinfo-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"',
}


def _flagger(name: str, cluster: str) -> str:
    """Flagger's expectation for podinfo in default with a 1m interval, less the leading space."""
    if name == REQUEST_SUCCESS_RATE:
        return (
            f'sum( rate( envoy_cluster_upstream_rq{{ {cluster}, envoy_response_code!~"5.*" }}[1m] )'
            f" ) / sum( rate( envoy_cluster_upstream_rq{{ {cluster}, }}[1m] ) ) * 100"
        )
    return (
        "histogram_quantile( 0.99, sum( rate( envoy_cluster_upstream_rq_time_bucket{"
        f" {cluster}, }}[1m] ) ) by (le) )"
    )


@pytest.mark.parametrize("provider", list(CLUSTERS))
@pytest.mark.parametrize("name", [REQUEST_SUCCESS_RATE, REQUEST_DURATION])
def test_builtin_queries_match_flagger_exactly(provider: str, name: str) -> None:
    podinfo = CanaryContext(
        name="podinfo", namespace="default", target="podinfo", provider=provider
    )
    expected = _flagger(name, CLUSTERS[provider])
    assert mesh_of(provider) == provider
    assert render_query(MetricSpec(name=name), context=podinfo) == expected
    assert builtin_scale(name, provider=provider) == 1  # the histogram is in milliseconds


@pytest.mark.parametrize(
    ("provider", "interval", "canary", "others"),
    [
        (
            "contour",
            "30s",
            "shop_web-canary_9898",
            ["shop_web-primary_9898", "shop_web-app-canary_9898"],
        ),
        ("gloo", "1m", "shop-web-canaryupstream-9898_shop", ["shop-web-primaryupstream-9898_shop"]),
    ],
)
def test_the_cluster_is_the_apex_services_canary_when_service_name_is_set(
    provider: str, interval: str, canary: str, others: list[str]
) -> None:
    context = CanaryContext(
        name="web", namespace="shop", target="web-app", service="web", provider=provider
    )
    query = render_query(MetricSpec(name=REQUEST_SUCCESS_RATE, interval=interval), context=context)
    found = re.search(r'envoy_cluster_name=~"([^"]+)"', query)
    assert found is not None
    pattern = re.compile(found.group(1))
    assert pattern.fullmatch(canary)  # what the provider names the canary's cluster
    for other in others:
        assert not pattern.fullmatch(other)
