"""Kuma: the simulator follows TrafficRoutes (kuma.io/v1alpha1) and exports the dataplanes'
Envoy series.

A TrafficRoute's destination and split name Services by Kuma's `kuma.io/service` tag,
`<service>_<namespace>_svc_<port>`: the split divides the requests for the destination among
those Services by weight. Each workload so fed is reported as Kuma's dataplanes report it,
labelled `service` with the tag of the Service it is reached through:
`envoy_cluster_upstream_rq` by `envoy_response_code` and the `envoy_cluster_upstream_rq_time`
histogram in milliseconds, which Flagger's Kuma queries select on. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from canary.kube.resources import TRAFFIC_ROUTE
from canary.sandbox.exporters.base import (
    Count,
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
    RouteSource,
)
from canary.sandbox.meshsim_objects import RATE_ANNOTATION, Backend, Split, parse_rate

KIND: Final = "TrafficRoute"
SERVICE_TAG: Final = "kuma.io/service"
_TAG_PARTS: Final = 4  # service, namespace, "svc", port


def _parse_tag(tag: object) -> tuple[str, str, str] | None:
    """(service, namespace, port) of a `kuma.io/service` tag; None for any other value."""
    parts = str(tag).split("_")
    if len(parts) != _TAG_PARTS or parts[2] != "svc" or not all(parts):
        return None
    return parts[0], parts[1], parts[3]


def splits_of_traffic_route(manifest: Mapping[str, Any]) -> list[Split]:
    """A TrafficRoute as one split of its first destination's requests among Services."""
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    name = str(meta.get("name", ""))
    destinations = spec.get("destinations") or []
    apex = _parse_tag(
        ((destinations[0] if destinations else {}).get("match") or {}).get(SERVICE_TAG)
    )
    if apex is None:
        return []
    backends = []
    for entry in (spec.get("conf") or {}).get("split") or []:
        tag = _parse_tag((entry.get("destination") or {}).get(SERVICE_TAG))
        weight = entry.get("weight")
        if tag is not None and isinstance(weight, int) and weight > 0:
            backends.append(Backend(service=tag[0], weight=float(weight), namespace=tag[1]))
    rate: float | None = None
    problems: tuple[str, ...] = ()
    annotations = meta.get("annotations") or {}
    if RATE_ANNOTATION in annotations:
        try:
            rate = parse_rate(str(annotations[RATE_ANNOTATION]))
        except ValueError as error:
            problems = (f"TrafficRoute {name}: annotation {RATE_ANNOTATION}: {error}; ignored",)
    if not backends:
        return []
    service, namespace, port = apex
    return [
        Split(
            namespace=namespace,
            name=f"{service}_{namespace}_svc_{port}",  # the destination's tag: it has the port
            apex=service,
            backends=tuple(backends),
            kind=KIND,
            rate=rate,
            problems=problems,
        )
    ]


# Envoy's counter has no `_total` suffix; the Python client would add one to a "counter"
# family's HELP and TYPE lines, so the family is declared untyped (rate() reads it the same).
REQUESTS = Family("envoy_cluster_upstream_rq", "Upstream requests by response code.", "untyped")
LATENCY = Family("envoy_cluster_upstream_rq_time", "Upstream request time, in ms.", "histogram")


def series(workload: Exported) -> Iterator[Count | Latency]:
    feed = next((f for f in workload.feeds if f.route_kind == KIND), None)
    apex = _parse_tag(feed.route) if feed is not None else None
    if feed is None or apex is None:
        return
    service = f"{feed.service}_{feed.service_namespace}_svc_{apex[2]}"
    yield Count(REQUESTS, {"service": service, "envoy_response_code": "200"}, Outcome.SUCCEEDED)
    yield Count(REQUESTS, {"service": service, "envoy_response_code": "500"}, Outcome.FAILED)
    yield Latency(LATENCY, {"service": service}, Outcome.ALL)


PROVIDER = MeshsimProvider(
    name="kuma",
    routes=(RouteSource(TRAFFIC_ROUTE, splits_of_traffic_route),),
    families=(REQUESTS, LATENCY),
    series=series,
)
