"""Builtin PromQL per mesh: the exact Linkerd queries Flagger sends, and who reads them."""

from __future__ import annotations

import pytest

from canary.metrics.builtin import (
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    builtin_query,
    mesh_of,
)
from canary.metrics.checks import render_query
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.inputs import CanaryContext, MetricSpec

PODINFO = CanaryContext(name="podinfo", namespace="default", target="podinfo")

# Flagger's pkg/metrics/observers/linkerd_test.go expectations (flagger.md §5.2), which start
# with a space left by Flagger's whitespace collapsing; ours carry no leading space.
FLAGGER_SUCCESS_RATE = (
    ' sum( rate( response_total{ namespace="default", deployment=~"podinfo",'
    ' classification!="failure", direction="inbound" }[1m] ) ) / sum( rate( response_total{'
    ' namespace="default", deployment=~"podinfo", direction="inbound" }[1m] ) ) * 100'
)
FLAGGER_DURATION = (
    ' histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{ namespace="default",'
    ' deployment=~"podinfo", direction="inbound" }[1m] ) ) by (le) )'
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [(REQUEST_SUCCESS_RATE, FLAGGER_SUCCESS_RATE), (REQUEST_DURATION, FLAGGER_DURATION)],
)
def test_linkerd_builtin_queries_match_flagger_exactly(name: str, expected: str) -> None:
    assert render_query(MetricSpec(name=name), context=PODINFO) == expected.lstrip(" ")


def test_the_interval_and_names_of_the_canary_are_used() -> None:
    context = CanaryContext(name="web", namespace="shop", target="web-app", provider="smi:v1alpha3")
    query = render_query(MetricSpec(name=REQUEST_DURATION, interval="30s"), context=context)
    assert query == (
        'histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{ namespace="shop",'
        ' deployment=~"web-app", direction="inbound" }[30s] ) ) by (le) )'
    )


@pytest.mark.parametrize("provider", ["linkerd", "smi", "smi:v1alpha1", "smi:v1alpha4"])
def test_linkerd_and_smi_providers_read_linkerd_metrics(provider: str) -> None:
    assert mesh_of(provider) == "linkerd"
    assert builtin_query(REQUEST_SUCCESS_RATE, provider=provider).startswith(
        "sum( rate( response_total{"
    )


@pytest.mark.parametrize("provider", ["kubernetes", "gatewayapi", "gatewayapi:v1beta1"])
def test_providers_without_builtins_say_to_write_a_template(provider: str) -> None:
    with pytest.raises(MetricError) as caught:
        builtin_query(REQUEST_DURATION, provider=provider)
    assert caught.value.kind is FailureKind.UNSUPPORTED_PROVIDER
    assert str(caught.value) == (
        f"provider {provider!r} has no builtin metrics yet; write a MetricTemplate and"
        " reference it with templateRef"
    )


@pytest.mark.parametrize("provider", ["istio", "smiley", "", "linkerd2"])
def test_an_unknown_provider_is_an_error_not_a_fallback(provider: str) -> None:
    with pytest.raises(MetricError) as caught:
        builtin_query(REQUEST_SUCCESS_RATE, provider=provider)
    assert caught.value.kind is FailureKind.UNSUPPORTED_PROVIDER
    assert str(caught.value).startswith(f"unknown provider {provider!r}")


def test_a_metric_that_is_not_builtin_needs_a_query() -> None:
    with pytest.raises(MetricError) as caught:
        render_query(MetricSpec(name="error-rate"), context=PODINFO)
    assert caught.value.kind is FailureKind.NO_QUERY
    assert caught.value.kind.is_configuration
    assert str(caught.value) == (
        "'error-rate' is not a builtin metric (request-duration, request-success-rate) and has"
        " no query or templateRef"
    )


def test_a_template_replaces_the_builtin_of_the_same_name() -> None:
    metric = MetricSpec(name=REQUEST_SUCCESS_RATE, template_query='avg(x{ns="{{ namespace }}"})')
    assert render_query(metric, context=PODINFO) == 'avg(x{ns="default"})'


def test_an_inline_query_is_rendered_like_a_template() -> None:
    metric = MetricSpec(name="custom", query="max(y[{{ interval }}])", interval="2m")
    assert render_query(metric, context=PODINFO) == "max(y[2m])"
