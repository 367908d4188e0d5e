"""Envoy's upstream cluster statistics, for every Envoy-based provider at once.

`envoy_cluster_upstream_rq` (by `envoy_response_code`) and `envoy_cluster_upstream_rq_time`
(milliseconds) must each be one metric family in a scrape: Prometheus refuses a second TYPE
line for the same name, which would lose the whole scrape. So the providers whose builtins read
these series (Contour, Gloo) do not export them themselves: each names the cluster of a feed
that comes through its route objects (`CLUSTERS`: route kind -> the labels that identify the
cluster), and this one exporter writes the families. A workload is labelled by its first feed
through such a route, so its counters only grow. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Final

from prometheus_client.core import Metric

from canary.sandbox.exporters import contour, gloo
from canary.sandbox.exporters.base import MeshsimProvider, Traffic
from canary.sandbox.meshsim_model import Feed

UPSTREAM_RQ: Final = "envoy_cluster_upstream_rq"
TIME: Final = "envoy_cluster_upstream_rq_time"
# Route kind -> the labels of the Envoy cluster its feeds reach (one line per provider).
CLUSTERS: Final[Mapping[str, Callable[[Feed], Mapping[str, str]]]] = {
    contour.KIND: lambda feed: {"envoy_cluster_name": contour.cluster_name(feed)},
    gloo.KIND: lambda feed: {"envoy_cluster_name": gloo.cluster_name(feed)},
}


def export(traffic: Traffic) -> Iterator[Metric]:
    # Envoy's counters carry no `_total` suffix, which prometheus_client gives every counter:
    # exposed untyped under Envoy's name (rate() reads it the same).
    requests = Metric(UPSTREAM_RQ, "Upstream requests completed, by response code.", "unknown")
    latency = Metric(TIME, "Upstream request time, in ms.", "histogram")
    for key, series in traffic.series.items():
        feed = next((f for f in traffic.routes.get(key, ()) if f.route_kind in CLUSTERS), None)
        if feed is None:
            continue
        cluster = dict(CLUSTERS[feed.route_kind](feed))
        for code, count in (("200", series.successes), ("500", series.failures)):
            if count:
                requests.add_sample(UPSTREAM_RQ, {"envoy_response_code": code, **cluster}, count)
        buckets = series.cumulative()
        for bound, count in buckets:
            latency.add_sample(f"{TIME}_bucket", {**cluster, "le": bound}, count)
        latency.add_sample(f"{TIME}_count", cluster, buckets[-1][1])
        latency.add_sample(f"{TIME}_sum", cluster, series.latency_sum_ms)
    yield requests
    yield latency


PROVIDER = MeshsimProvider(name="envoy", export=export)
