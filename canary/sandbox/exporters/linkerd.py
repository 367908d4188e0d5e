"""Linkerd: the simulator follows SMI TrafficSplits and exports the inbound proxies' series.

`request_total`, `response_total` (by classification and status) and `response_latency_ms`, with
the `namespace`, `deployment` and `direction="inbound"` labels Linkerd's builtin queries select
on. TrafficSplits are read as v1alpha2 (the storage version; v1alpha1 weights come back as
quantity strings). No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from canary.kube.resources import TRAFFIC_SPLIT
from canary.sandbox.exporters.base import (
    Count,
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
    RouteSource,
)
from canary.sandbox.meshsim_objects import Split

REQUESTS = Family("request", "Requests received.", "counter")
RESPONSES = Family("response", "Responses sent, by classification and HTTP status.", "counter")
LATENCY = Family("response_latency_ms", "Time to the response's headers, in ms.", "histogram")


def series(workload: Exported) -> Iterator[Count | Latency]:
    namespace, deployment = workload.key
    common = {"namespace": namespace, "deployment": deployment, "direction": "inbound"}
    yield Count(REQUESTS, common, Outcome.ALL)
    success = {**common, "classification": "success", "status_code": "200"}
    yield Count(RESPONSES, success, Outcome.SUCCEEDED)
    failure = {**common, "classification": "failure", "status_code": "500"}
    yield Count(RESPONSES, failure, Outcome.FAILED)
    yield Latency(LATENCY, common, Outcome.ALL)


PROVIDER = MeshsimProvider(
    name="linkerd",
    routes=(RouteSource(TRAFFIC_SPLIT, lambda manifest: [Split.from_manifest(manifest)]),),
    families=(REQUESTS, RESPONSES, LATENCY),
    series=series,
)
