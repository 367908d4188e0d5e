"""The mesh simulator inside the sandbox: TrafficSplit weights become Linkerd metrics in Prometheus.

Every assertion goes through the sandbox's real Prometheus, with the PromQL that Flagger's Linkerd
observer sends, so these tests check what the controller will see.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from kubernetes_asyncio.client import (
    ApiClient,
    AppsV1Api,
    CoreV1Api,
    CustomObjectsApi,
    V1Deployment,
    V1Service,
)
from prometheus_api_client import PrometheusConnect

from canary.kube.objects import body
from canary.sandbox.state import SandboxState
from tests.integration.waiting import eventually

SMI = "split.smi-spec.io"
RATE = 40.0  # requests per second through the TrafficSplit (its meshsim.canary.dev/rate)


def _success_rate(namespace: str, target: str) -> str:
    """Flagger's Linkerd `request-success-rate` query, whitespace collapsed as Flagger sends it."""
    selector = f'namespace="{namespace}", deployment=~"{target}"'
    return (
        f' sum( rate( response_total{{ {selector}, classification!="failure",'
        f' direction="inbound" }}[1m] ) ) / sum( rate( response_total{{ {selector},'
        f' direction="inbound" }}[1m] ) ) * 100'
    )


def _p99_latency(namespace: str, target: str) -> str:
    """Flagger's Linkerd `request-duration` query."""
    return (
        f" histogram_quantile( 0.99, sum( rate( response_latency_ms_bucket{{"
        f' namespace="{namespace}", deployment=~"{target}", direction="inbound" }}[1m] ) )'
        f" by (le) )"
    )


def _request_rate(namespace: str, target: str, window: str) -> str:
    return (
        f'sum(rate(response_total{{namespace="{namespace}", deployment="{target}",'
        f' direction="inbound"}}[{window}]))'
    )


class Prometheus:
    """The sandbox's Prometheus, queried off the event loop (its client is synchronous)."""

    def __init__(self, url: str) -> None:
        self._client = PrometheusConnect(url=url, disable_ssl=True)

    async def results(self, query: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await asyncio.to_thread(self._client.custom_query, query)
        return result

    def probe(self, query: str) -> Callable[[], Awaitable[float | None]]:
        return lambda: self.value(query)

    async def value(self, query: str) -> float | None:
        """The single value of `query`, or None when it has no series (or is NaN: no data)."""
        results = await self.results(query)
        if not results:
            return None
        value = float(results[0]["value"][1])
        return None if math.isnan(value) else value


@pytest.fixture
def prometheus(sandbox: SandboxState) -> Prometheus:
    return Prometheus(sandbox.prometheus_url)


def _deployment(
    name: str,
    *,
    replicas: int = 1,
    error_rate: float = 0.0,
    latency_ms: float = 20.0,
    rate: float | None = None,
) -> V1Deployment:
    labels = {"app": name}
    own = {"meshsim.canary.dev/rate": str(rate)} if rate is not None else {}
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels, "annotations": own},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": labels,
                    "annotations": {
                        "meshsim.canary.dev/error-rate": str(error_rate),
                        "meshsim.canary.dev/latency-ms": str(latency_ms),
                    },
                },
                "spec": {"containers": [{"name": "app", "image": "example.test/podinfo:1"}]},
            },
        },
    }
    return body(manifest, V1Deployment)


def _service(name: str, app: str) -> V1Service:
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}, "ports": [{"port": 9898, "targetPort": 9898}]},
    }
    return body(manifest, V1Service)


def _traffic_split(version: str, primary: object, canary: object) -> dict[str, Any]:
    return {
        "apiVersion": f"{SMI}/{version}",
        "kind": "TrafficSplit",
        "metadata": {"name": "podinfo", "annotations": {"meshsim.canary.dev/rate": str(RATE)}},
        "spec": {
            "service": "podinfo",
            "backends": [
                {"service": "podinfo-primary", "weight": primary},
                {"service": "podinfo-canary", "weight": canary},
            ],
        },
    }


async def _podinfo(
    api: ApiClient, namespace: str, *, canary_replicas: int = 1, canary_error_rate: float = 0.5
) -> None:
    """Flagger's layout: podinfo-primary (healthy) and podinfo (the canary), and their Services."""
    apps, core = AppsV1Api(api), CoreV1Api(api)
    await apps.create_namespaced_deployment(namespace, _deployment("podinfo-primary"))
    canary = _deployment(
        "podinfo", replicas=canary_replicas, error_rate=canary_error_rate, latency_ms=300
    )
    await apps.create_namespaced_deployment(namespace, canary)
    for name, app in (
        ("podinfo", "podinfo-primary"),
        ("podinfo-primary", "podinfo-primary"),
        ("podinfo-canary", "podinfo"),
    ):
        await core.create_namespaced_service(namespace, _service(name, app))


def _near(expected: float, tolerance: float) -> Callable[[float | None], bool]:
    return lambda value: value is not None and abs(value - expected) <= tolerance


async def test_the_meshsim_target_is_scraped(prometheus: Prometheus) -> None:
    up = await eventually(
        prometheus.probe('up{job="meshsim"}'),
        until=lambda value: value == 1.0,
        within=15,
        what="the meshsim scrape target up",
    )
    assert up == 1.0


async def test_weights_success_rate_latency_and_shifting_all_traffic_away(
    api: ApiClient, namespace: str, prometheus: Prometheus
) -> None:
    await _podinfo(api, namespace)
    custom = CustomObjectsApi(api)
    await custom.create_namespaced_custom_object(
        SMI, "v1alpha2", namespace, "trafficsplits", _traffic_split("v1alpha2", 50, 50)
    )

    # The canary fails half its requests, the primary none (so it has no failure series at all).
    canary_success = await eventually(
        prometheus.probe(_success_rate(namespace, "podinfo")),
        until=_near(50.0, 5.0),
        within=30,
        what="canary success rate about 50 %",
    )
    assert canary_success is not None
    primary_success = await prometheus.value(_success_rate(namespace, "podinfo-primary"))
    assert primary_success == 100.0

    # Half of the 40 requests per second each.
    for target in ("podinfo", "podinfo-primary"):
        await eventually(
            prometheus.probe(_request_rate(namespace, target, "5s")),
            until=_near(RATE / 2, 3.0),
            within=30,
            what=f"{target} at about {RATE / 2:g} requests per second",
        )

    # A mean of 300 ms puts the canary's p99 in the 500-1000 ms bucket; 20 ms keeps the
    # primary's under 100 ms.
    canary_p99 = await eventually(
        prometheus.probe(_p99_latency(namespace, "podinfo")),
        until=lambda value: value is not None and 500.0 <= value <= 1000.0,
        within=30,
        what="canary p99 latency between 500 and 1000 ms",
    )
    assert canary_p99 is not None
    primary_p99 = await prometheus.value(_p99_latency(namespace, "podinfo-primary"))
    assert primary_p99 is not None
    assert primary_p99 < 100.0

    # All traffic back to the primary: the canary's counters stop moving.
    await custom.patch_namespaced_custom_object(
        SMI,
        "v1alpha2",
        namespace,
        "trafficsplits",
        "podinfo",
        # A JSON patch (a list) is what the client sends as such; one op changes both weights.
        [
            {
                "op": "replace",
                "path": "/spec/backends",
                "value": _traffic_split("v1alpha2", 100, 0)["spec"]["backends"],
            }
        ],
    )
    drained = await eventually(
        prometheus.probe(_request_rate(namespace, "podinfo", "5s")),
        until=lambda value: value == 0.0,
        within=30,
        what="no requests to the canary",
    )
    assert drained == 0.0
    await eventually(
        prometheus.probe(_request_rate(namespace, "podinfo-primary", "5s")),
        until=_near(RATE, 4.0),
        within=30,
        what=f"the primary at about {RATE:g} requests per second",
    )


async def test_v1alpha1_quantity_weights_divide_the_traffic(
    api: ApiClient, namespace: str, prometheus: Prometheus
) -> None:
    await _podinfo(api, namespace, canary_error_rate=0.0)
    await CustomObjectsApi(api).create_namespaced_custom_object(
        SMI, "v1alpha1", namespace, "trafficsplits", _traffic_split("v1alpha1", "750m", "250m")
    )
    for target, share in (("podinfo-primary", 0.75), ("podinfo", 0.25)):
        await eventually(
            prometheus.probe(_request_rate(namespace, target, "5s")),
            until=_near(RATE * share, 3.0),
            within=30,
            what=f"{target} at about {RATE * share:g} requests per second",
        )
    # A healthy canary: the success rate the controller would read is 100.
    assert await prometheus.value(_success_rate(namespace, "podinfo")) == 100.0


async def test_deployments_without_traffic_have_no_series(
    api: ApiClient, namespace: str, prometheus: Prometheus
) -> None:
    apps = AppsV1Api(api)
    # Nothing routes to `idle`; the canary has no ready pod, so its half of the split is lost.
    await apps.create_namespaced_deployment(namespace, _deployment("idle"))
    await _podinfo(api, namespace, canary_replicas=0)
    await CustomObjectsApi(api).create_namespaced_custom_object(
        SMI, "v1alpha2", namespace, "trafficsplits", _traffic_split("v1alpha2", 50, 50)
    )
    # A Deployment with a rate annotation of its own gets that rate without any TrafficSplit.
    await apps.create_namespaced_deployment(namespace, _deployment("busy", rate=10))

    await eventually(
        prometheus.probe(_request_rate(namespace, "busy", "5s")),
        until=_near(10.0, 2.0),
        within=30,
        what="busy at about 10 requests per second",
    )
    await eventually(
        prometheus.probe(_request_rate(namespace, "podinfo-primary", "5s")),
        until=_near(RATE / 2, 3.0),
        within=30,
        what=f"the primary at about {RATE / 2:g} requests per second (half the split)",
    )
    # Both were in the cluster before `busy` got its first request, so both have been planned.
    for silent in ("idle", "podinfo"):
        series = await prometheus.results(
            f'response_total{{namespace="{namespace}", deployment="{silent}"}}'
        )
        assert series == [], silent
        assert await prometheus.value(_success_rate(namespace, silent)) is None
