"""Builtin PromQL per mesh: the exact queries Flagger sends (Linkerd's proxy metrics, and the
application's own histogram for kubernetes and gatewayapi:*), and who reads them."""

from __future__ import annotations

import dataclasses
import re

import pytest

from canary.metrics.builtin import (
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    builtin_query,
    builtin_scale,
    mesh_of,
)
from canary.metrics.checks import evaluate, render_query
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.inputs import CanaryContext, MetricSpec
from canary.sandbox.meshsim_model import pod_name

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


# Flagger's HttpObserver queries (pkg/metrics/observers/http.go, flagger.md §5.2), rendered for
# podinfo in default with a 1m interval, whitespace collapsed.
_PODS = 'kubernetes_namespace="default", kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"'
HTTP_SUCCESS_RATE = (
    f'sum( rate( http_request_duration_seconds_count{{ {_PODS}, status!~"5.*" }}[1m] ) ) /'
    f" sum( rate( http_request_duration_seconds_count{{ {_PODS} }}[1m] ) ) * 100"
)
HTTP_DURATION = (
    f"histogram_quantile( 0.99, sum( rate( http_request_duration_seconds_bucket{{ {_PODS} }}[1m]"
    " ) ) by (le) )"
)


@pytest.mark.parametrize(
    "provider", ["kubernetes", "gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1"]
)
@pytest.mark.parametrize(
    ("name", "expected"),
    [(REQUEST_SUCCESS_RATE, HTTP_SUCCESS_RATE), (REQUEST_DURATION, HTTP_DURATION)],
)
def test_kubernetes_and_gateway_api_read_the_application_histogram_as_flagger_does(
    provider: str, name: str, expected: str
) -> None:
    context = CanaryContext(
        name="podinfo", namespace="default", target="podinfo", provider=provider
    )
    assert mesh_of(provider) == "http"
    assert render_query(MetricSpec(name=name), context=context) == expected


def test_the_target_pod_regex_matches_the_target_pods_and_not_the_primary_pods() -> None:
    """The same anchored regex Prometheus applies to `kubernetes_pod_name`."""
    pattern = re.compile("podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)")
    assert pattern.fullmatch("podinfo-5d8f9c7b6-x2x4z")
    assert pattern.fullmatch(pod_name("default", "podinfo"))  # the mesh simulator's name
    assert not pattern.fullmatch("podinfo-primary-5d8f9c7b6-x2x4z")
    assert not pattern.fullmatch(pod_name("default", "podinfo-primary"))


def test_a_daemonset_targets_pods_are_matched_and_not_its_primarys() -> None:
    """Flagger's pattern misses `<target>-<5>` (a DaemonSet's pod) and matches the primary's
    `<target>-primary-<5>`: a DaemonSet target gets a pattern of its own."""
    flaggers = re.compile("agent-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)")
    assert not flaggers.fullmatch("agent-x7k2p")
    assert flaggers.fullmatch("agent-primary-x7k2p")
    context = CanaryContext(
        name="agent",
        namespace="default",
        target="agent",
        provider="kubernetes",
        target_kind="DaemonSet",
    )
    query = render_query(MetricSpec(name=REQUEST_SUCCESS_RATE, interval="1m"), context=context)
    found = re.search(r'kubernetes_pod_name=~"([^"]+)"', query)
    assert found is not None
    pattern = re.compile(found.group(1))
    assert pattern.fullmatch("agent-x7k2p")
    assert pattern.fullmatch(pod_name("default", "agent", daemon_set=True))
    assert not pattern.fullmatch("agent-primary-x7k2p")
    assert not pattern.fullmatch(pod_name("default", "agent-primary", daemon_set=True))
    assert not pattern.fullmatch(pod_name("default", "agent"))  # a Deployment's pod name
    deployment = dataclasses.replace(context, target_kind="Deployment")
    query = render_query(MetricSpec(name=REQUEST_SUCCESS_RATE, interval="1m"), context=deployment)
    assert "agent-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)" in query


@pytest.mark.parametrize(
    ("provider", "scale"), [("linkerd", 1.0), ("kubernetes", 1000.0), ("gatewayapi:v1", 1000.0)]
)
def test_request_duration_is_in_milliseconds_for_every_provider(
    provider: str, scale: float
) -> None:
    assert builtin_scale(REQUEST_DURATION, provider=provider) == scale
    assert builtin_scale(REQUEST_SUCCESS_RATE, provider=provider) == 1.0


class _Answer:
    def __init__(self, value: float) -> None:
        self.value = value
        self.asked: list[str] = []

    async def query(self, promql: str) -> float:
        self.asked.append(promql)
        return self.value


async def test_a_p99_in_seconds_is_judged_in_milliseconds() -> None:
    """0.25 s from the histogram is 250 ms, above a 200 ms maximum (Flagger converts the same)."""
    context = CanaryContext(
        name="podinfo", namespace="default", target="podinfo", provider="kubernetes"
    )
    client = _Answer(0.25)
    outcome = await evaluate(
        MetricSpec(name=REQUEST_DURATION, max=200), context=context, client=client
    )
    assert outcome.result.value == 250.0
    assert outcome.result.message == "request-duration 250.00 > 200 (max)"
    assert client.asked == [HTTP_DURATION]


async def test_a_template_named_like_a_builtin_is_not_scaled() -> None:
    context = CanaryContext(
        name="podinfo", namespace="default", target="podinfo", provider="kubernetes"
    )
    metric = MetricSpec(name=REQUEST_DURATION, template_query="vector(0.25)", max=1)
    outcome = await evaluate(metric, context=context, client=_Answer(0.25))
    assert outcome.result.value == 0.25


@pytest.mark.parametrize("provider", ["istio2", "smiley", "", "linkerd2"])
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


# Flagger's NGINX observer (pkg/metrics/observers/nginx.go), whitespace collapsed.
FLAGGER_NGINX = {
    REQUEST_SUCCESS_RATE: (
        'sum( rate( nginx_ingress_controller_requests{ namespace="test", ingress="web",'
        ' canary!="", status!~"5.*" }[1m] ) ) / sum( rate( nginx_ingress_controller_requests{'
        ' namespace="test", ingress="web", canary!="" }[1m] ) ) * 100'
    ),
    REQUEST_DURATION: (
        "sum( rate( nginx_ingress_controller_response_duration_seconds_sum{"
        ' namespace="test", ingress="web", canary!="" }[1m] ) ) / sum( rate('
        ' nginx_ingress_controller_response_duration_seconds_count{ namespace="test",'
        ' ingress="web", canary!="" }[1m] ) ) * 1000'
    ),
}


@pytest.mark.parametrize("name", sorted(FLAGGER_NGINX))
def test_nginx_reads_the_canary_requests_of_the_ingress_ref(name: str) -> None:
    context = CanaryContext(
        name="podinfo", namespace="test", target="podinfo", ingress="web", provider="nginx"
    )
    assert mesh_of("nginx") == "nginx"
    assert render_query(MetricSpec(name=name), context=context) == FLAGGER_NGINX[name]
    assert builtin_scale(name, provider="nginx") == 1.0  # milliseconds already


# Flagger's Skipper observer (pkg/metrics/observers/skipper.go): names with `-` written `_`.
SKIPPER_ROUTE = 'route=~"kube(ew)?_test_ns__web_app_canary__.*__podinfo_canary(_[0-9]+)?"'
FLAGGER_SKIPPER = {
    REQUEST_SUCCESS_RATE: (
        f"sum(rate(skipper_response_duration_seconds_bucket{{{SKIPPER_ROUTE},"
        'code!~"5..",le="+Inf"}[1m])) / sum(rate(skipper_response_duration_seconds_bucket'
        f'{{{SKIPPER_ROUTE},le="+Inf"}}[1m])) * 100'
    ),
    REQUEST_DURATION: (
        f"sum(rate(skipper_serve_route_duration_seconds_sum{{{SKIPPER_ROUTE}}}[1m])) / "
        f"sum(rate(skipper_serve_route_duration_seconds_count{{{SKIPPER_ROUTE}}}[1m])) * 1000"
    ),
}


@pytest.mark.parametrize("name", sorted(FLAGGER_SKIPPER))
def test_skipper_reads_the_route_of_the_canary_ingress_with_encoded_names(name: str) -> None:
    context = CanaryContext(
        name="podinfo", namespace="test-ns", target="podinfo", ingress="web.app", provider="skipper"
    )
    assert render_query(MetricSpec(name=name), context=context) == FLAGGER_SKIPPER[name]
    assert builtin_scale(name, provider="skipper") == 1.0  # milliseconds already


def test_a_template_is_rendered_with_the_names_as_written_with_skipper() -> None:
    context = CanaryContext(
        name="podinfo", namespace="test-ns", target="podinfo", provider="skipper"
    )
    spec = MetricSpec(name="errors", template_query='x{namespace="{{ namespace }}"}')
    assert render_query(spec, context=context) == 'x{namespace="test-ns"}'
