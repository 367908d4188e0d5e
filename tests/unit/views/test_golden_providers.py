"""The golden signals of every provider: the primary's and the canary's own series, read with the
provider's builtin queries and the Canary's names, or a plain reason where they cannot be told
apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from canary.cli.views.sections import Described, render
from canary.metrics.builtin import TABLES
from canary.metrics.series import Series
from canary.views.golden import Golden, Span, Unavailable, golden_signals
from canary.views.workloads import workloads_of
from tests.unit.cli.objects import NOW, canary

SPAN = Span(start=NOW - timedelta(seconds=60), end=NOW, points=7)

# Provider -> (a part of the primary's request-rate query, a part of the canary's). The Canary
# names its apex Service `pod-info` and its Ingress `web-front` (Skipper spells both with `_`).
SIDES = {
    "linkerd": ('deployment=~"podinfo-primary"', 'deployment=~"podinfo"'),
    "smi": ('deployment=~"podinfo-primary"', 'deployment=~"podinfo"'),
    "istio": ('destination_workload=~"podinfo-primary"', 'destination_workload=~"podinfo"'),
    "kubernetes": ('pod_name=~"podinfo-primary-[0-9a-zA-Z]+', 'pod_name=~"podinfo-[0-9a-zA-Z]+'),
    "gatewayapi": ('pod_name=~"podinfo-primary-[0-9a-zA-Z]+', 'pod_name=~"podinfo-[0-9a-zA-Z]+'),
    "nginx": ('ingress="web-front", canary=""', 'ingress="web-front", canary!=""'),
    "skipper": (
        "__web_front_canary__.*__pod_info_primary",
        "__web_front_canary__.*__pod_info_canary",
    ),
    "contour": ('"shop_pod-info-primary_', '"shop_pod-info-canary_'),
    "gloo": ('"shop-pod-info-primaryupstream-', '"shop-pod-info-canaryupstream-'),
    "traefik": ('"shop-podinfo-primary-', '"shop-podinfo-canary-'),
    "kuma": ('"podinfo-primary_shop_svc_', '"podinfo-canary_shop_svc_'),
    "knative": ('"shop/podinfo-00001"', '"shop/podinfo-00002"'),
}
TOGETHER = {"apisix"}


@dataclass
class CountingPrometheus:
    """Answers 1 to every query, and remembers them."""

    asked: list[str] = field(default_factory=list)

    async def query(self, promql: str) -> float:
        self.asked.append(promql)
        return 1.0

    async def query_range(
        self, promql: str, *, start: datetime, end: datetime, step: int
    ) -> tuple[Series, ...]:
        self.asked.append(promql)
        return (Series(points=((start.timestamp(), 1.0), (end.timestamp(), float(step)))),)


def _canary(provider: str) -> dict[str, Any]:
    obj = canary(applied="podinfo-00002", promoted="podinfo-00001")
    spec = obj["spec"]
    spec["provider"] = provider
    spec["service"]["name"] = "pod-info"
    spec["ingressRef"] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "name": "web-front",
    }
    if provider == "knative":
        spec["targetRef"] = {
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "name": "podinfo",
        }
        del spec["ingressRef"]
    if provider == "apisix":
        spec["routeRef"] = {
            "apiVersion": "apisix.apache.org/v2",
            "kind": "ApisixRoute",
            "name": "web",
        }
    return obj


def test_every_provider_is_either_told_apart_or_said_to_be_mixed() -> None:
    assert set(TABLES) == set(SIDES) | TOGETHER, "a new provider needs a line here"


@pytest.mark.parametrize("provider", sorted(SIDES))
async def test_the_primary_and_the_canary_are_read_from_their_own_series(provider: str) -> None:
    client = CountingPrometheus()
    golden = await golden_signals(client, workloads_of(_canary(provider)), window="30s", span=SPAN)
    assert isinstance(golden, Golden), golden
    primary_part, canary_part = SIDES[provider]
    # Asked in order: the probe, then rate, success and latency of the primary, then the canary's.
    queries = [q for q in client.asked if q != "vector(1)"]
    primary, canary_queries = queries[0:3], queries[3:6]
    assert all(primary_part in q for q in primary), primary
    assert not any(primary_part in q for q in canary_queries), canary_queries
    assert all(canary_part in q for q in canary_queries), canary_queries
    assert not set(primary) & set(canary_queries)
    assert not any("primary-canary" in q or "canary-primary" in q for q in queries)
    assert golden.primary.request_rate.value == golden.canary.request_rate.value == 1.0


async def test_a_provider_whose_series_mix_primary_and_canary_says_so() -> None:
    client = CountingPrometheus()
    golden = await golden_signals(client, workloads_of(_canary("apisix")), window="30s", span=SPAN)
    assert isinstance(golden, Unavailable)
    assert golden.answered, "Prometheus was asked, and answered"
    assert golden.reason.startswith("provider apisix: APISIX counts a route's requests")
    assert "primary's and the canary's requests together" in golden.reason
    text = render(
        Described(canary=_canary("apisix"), events=[], metrics=golden, prometheus_url="", now=NOW)
    )
    assert "unavailable: provider apisix: APISIX counts" in text


async def test_a_mean_latency_is_labelled_as_a_mean() -> None:
    obj = _canary("nginx")
    golden = await golden_signals(CountingPrometheus(), workloads_of(obj), window="30s", span=SPAN)
    assert isinstance(golden, Golden)
    assert golden.latency == "mean"
    text = render(Described(canary=obj, events=[], metrics=golden, prometheus_url="", now=NOW))
    assert "  mean latency " in text
    assert "p99 latency" not in text


def test_the_workloads_of_a_canary_carry_the_names_its_checks_render_with() -> None:
    found = workloads_of(_canary("nginx"))
    assert (found.namespace, found.primary, found.canary) == ("shop", "podinfo-primary", "podinfo")
    assert (found.service, found.ingress, found.route) == ("pod-info", "web-front", None)
    context = found.context("canary")
    assert (context.name, context.target, context.ingress_name) == (
        "podinfo",
        "podinfo",
        "web-front",
    )
    assert found.context("primary").target == "podinfo-primary"
    knative = workloads_of(_canary("knative"))
    assert (knative.route, knative.primary_route) == ("podinfo-00002", "podinfo-00001")
    assert knative.service is None, "a Knative target's apex is its own name"
    assert knative.context("primary").route_name == "podinfo-00001"


def test_a_canary_with_odd_fields_still_has_workloads() -> None:
    found = workloads_of({"metadata": "?", "spec": {"targetRef": 3, "ingressRef": {"name": 4}}})
    assert (found.canary, found.ingress, found.target_kind) == ("", None, "Deployment")
