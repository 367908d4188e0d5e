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

from canary.sandbox.exporters import contour, gloo
from canary.sandbox.exporters.base import (
    Count,
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
)
from canary.sandbox.meshsim_model import Feed

UPSTREAM_RQ: Final = "envoy_cluster_upstream_rq"
TIME: Final = "envoy_cluster_upstream_rq_time"
# Route kind -> the labels of the Envoy cluster its feeds reach (one line per provider).
CLUSTERS: Final[Mapping[str, Callable[[Feed], Mapping[str, str]]]] = {
    contour.KIND: lambda feed: {"envoy_cluster_name": contour.cluster_name(feed)},
    gloo.KIND: lambda feed: {"envoy_cluster_name": gloo.cluster_name(feed)},
}


# Envoy's counters carry no `_total` suffix, which prometheus_client gives every counter:
# exposed untyped under Envoy's name (rate() reads it the same).
REQUESTS = Family(UPSTREAM_RQ, "Upstream requests completed, by response code.", "untyped")
LATENCY = Family(TIME, "Upstream request time, in ms.", "histogram")


def series(workload: Exported) -> Iterator[Count | Latency]:
    feed = next((f for f in workload.feeds if f.route_kind in CLUSTERS), None)
    if feed is None:
        return
    cluster = dict(CLUSTERS[feed.route_kind](feed))
    yield Count(REQUESTS, {"envoy_response_code": "200", **cluster}, Outcome.SUCCEEDED)
    yield Count(REQUESTS, {"envoy_response_code": "500", **cluster}, Outcome.FAILED)
    yield Latency(LATENCY, cluster, Outcome.ALL)


PROVIDER = MeshsimProvider(name="envoy", families=(REQUESTS, LATENCY), series=series)
