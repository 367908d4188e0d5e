"""Linkerd: the simulator follows SMI TrafficSplits and exports the inbound proxies' series.

`request_total`, `response_total` (by classification and status) and `response_latency_ms`, with
the `namespace`, `deployment` and `direction="inbound"` labels Linkerd's builtin queries select
on. TrafficSplits are read as v1alpha2 (the storage version; v1alpha1 weights come back as
quantity strings). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from canary.kube.resources import TRAFFIC_SPLIT
from canary.sandbox.exporters.base import MeshsimProvider, RouteSource, Traffic
from canary.sandbox.meshsim_objects import Split


def export(traffic: Traffic) -> Iterator[Metric]:
    labels = ["namespace", "deployment", "direction"]
    requests = CounterMetricFamily("request", "Requests received.", labels=labels)
    responses = CounterMetricFamily(
        "response",
        "Responses sent, by classification and HTTP status.",
        labels=[*labels, "classification", "status_code"],
    )
    latency = HistogramMetricFamily(
        "response_latency_ms", "Time to the response's headers, in ms.", labels=labels
    )
    for (namespace, deployment), series in traffic.series.items():
        common = [namespace, deployment, "inbound"]
        requests.add_metric(common, series.count)
        if series.successes:
            responses.add_metric([*common, "success", "200"], series.successes)
        if series.failures:
            responses.add_metric([*common, "failure", "500"], series.failures)
        latency.add_metric(common, series.cumulative(), series.latency_sum_ms)
    yield requests
    yield responses
    yield latency


PROVIDER = MeshsimProvider(
    name="linkerd",
    routes=(RouteSource(TRAFFIC_SPLIT, lambda manifest: [Split.from_manifest(manifest)]),),
    export=export,
)
