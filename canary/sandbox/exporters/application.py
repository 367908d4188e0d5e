"""The application's own histogram, `http_request_duration_seconds`, as podinfo exports it.

Labelled by status, with the labels Prometheus's pod discovery would add (`kubernetes_namespace`,
`kubernetes_pod_name`; Flagger's `kubernetes-pods` scrape job), since the sandbox has no pods to
discover: the builtins of `kubernetes` and `gatewayapi:*` select on them. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import HistogramMetricFamily, Metric

from canary.sandbox.exporters.base import MeshsimProvider, Traffic


def export(traffic: Traffic) -> Iterator[Metric]:
    histogram = HistogramMetricFamily(
        "http_request_duration_seconds",
        "Seconds spent serving HTTP requests.",
        labels=["kubernetes_namespace", "kubernetes_pod_name", "method", "path", "status"],
    )
    for key, series in traffic.series.items():
        pod = [key[0], traffic.pod_name(key), "GET", "/"]
        if series.successes:
            histogram.add_metric(
                [*pod, "200"],
                series.cumulative_seconds(failed=False),
                (series.latency_sum_ms - series.failure_latency_sum_ms) / 1000,
            )
        if series.failures:
            histogram.add_metric(
                [*pod, "500"],
                series.cumulative_seconds(failed=True),
                series.failure_latency_sum_ms / 1000,
            )
    yield histogram


PROVIDER = MeshsimProvider(name="application", export=export)
