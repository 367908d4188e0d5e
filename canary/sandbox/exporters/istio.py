"""Istio: the simulator follows VirtualServices and exports the sidecars' standard metrics.

A VirtualService reads as one `Split` per HTTP or TCP route that has destinations (a route that
delegates has none: the delegate VirtualService carries them): requests divided among the
destination hosts' Services by weight (a lone destination without a weight takes everything,
as Istio does), `mirror` (`mirrorPercentage`, all when absent) as a mirror. The
VirtualService's `meshsim.canary.dev/rate` (or the default rate) is shared equally among its
routes. Hosts are Services: `podinfo` (in the VirtualService's namespace), or
`podinfo.test.svc.cluster.local`; other hosts are outside the simulation.

The exporter emits what every workload's sidecar reports as the destination
(`reporter="destination"`): `istio_requests_total` by `response_code` and
`istio_request_duration_milliseconds` (with the simulator's buckets, in ms), labelled with the
`destination_workload` and `destination_workload_namespace` Istio's builtin queries select on,
and the destination Service of the workload's first feed (`unknown` before any route reaches
it). Source-side series (`reporter="source"`) are not simulated. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from canary.kube.resources import VIRTUAL_SERVICE
from canary.sandbox.exporters.base import (
    Count,
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
    RouteSource,
)
from canary.sandbox.meshsim_objects import Backend, Split, route_rate

KIND = "VirtualService"
_CLUSTER_SUFFIX = ".svc.cluster.local"


def service_of(host: object, namespace: str) -> Backend | None:
    """The Service a destination host names (weight left 0): a short name is a Service of the
    VirtualService's namespace, as Istio reads it; `<name>.<namespace>.svc.cluster.local` one of
    that namespace. None for any other host (outside the cluster, as far as this goes)."""
    text = str(host or "")
    if text and "." not in text:
        return Backend(service=text, weight=0.0)
    name, _, other = text.removesuffix(_CLUSTER_SUFFIX).partition(".")
    if not text.endswith(_CLUSTER_SUFFIX) or not name or not other or "." in other:
        return None
    return Backend(service=name, weight=0.0, namespace=None if other == namespace else other)


def _weight(entry: Mapping[str, Any], *, alone: bool, where: str, problems: list[str]) -> float:
    """A destination's weight: absent, everything when it is alone (as Istio reads it)."""
    value = entry.get("weight")
    if value is None:
        return 100.0 if alone else 0.0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return float(value)
    problems.append(f"{where}: weight {value!r} is not a whole number; using 0")
    return 0.0


def _mirrors(route: Mapping[str, Any], namespace: str) -> tuple[Backend, ...]:
    mirror = route.get("mirror") or {}
    backend = service_of(mirror.get("host"), namespace)
    if backend is None:
        return ()
    percentage = route.get("mirrorPercentage") or {}
    value = percentage.get("value", 100.0) if isinstance(percentage, Mapping) else 100.0
    fraction = float(value) / 100 if isinstance(value, int | float) else 1.0
    return (Backend(service=backend.service, weight=fraction, namespace=backend.namespace),)


def splits_of_virtual_service(manifest: Mapping[str, Any]) -> list[Split]:
    """A VirtualService as one Split per route with destinations."""
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    where = f"VirtualService {namespace}/{name}"
    problems: list[str] = []
    rate = route_rate(meta, where, problems)
    routes: list[tuple[tuple[Backend, ...], tuple[Backend, ...]]] = []
    for protocol in ("http", "tcp"):
        for index, route in enumerate(spec.get(protocol) or []):
            destinations = route.get("route") or []
            backends = []
            for entry in destinations:
                host = (entry.get("destination") or {}).get("host")
                backend = service_of(host, namespace)
                if backend is None:
                    continue
                at = f"{where}: {protocol}[{index}] destination {host}"
                weight = _weight(entry, alone=len(destinations) == 1, where=at, problems=problems)
                backends.append(Backend(backend.service, weight, backend.namespace))
            if backends:
                routes.append((tuple(backends), _mirrors(route, namespace)))
    return [
        Split(
            namespace=namespace,
            name=f"{name}/route-{index}" if len(routes) > 1 else name,
            route=name,
            kind=KIND,
            apex=name,
            backends=backends,
            rate=rate,
            share=1.0 / len(routes),
            mirrors=mirrors,
            problems=tuple(problems) if index == 0 else (),
        )
        for index, (backends, mirrors) in enumerate(routes)
    ]


REQUESTS = Family("istio_requests", "Requests received.", "counter")
DURATION = Family("istio_request_duration_milliseconds", "Request durations, in ms.", "histogram")
_CODES = (("200", Outcome.SUCCEEDED), ("500", Outcome.FAILED))


def series(workload: Exported) -> Iterator[Count | Latency]:
    namespace, name = workload.key
    feeds = workload.feeds
    service, service_namespace = "unknown", "unknown"
    if feeds:
        service, service_namespace = feeds[0].service, feeds[0].service_namespace
    fqdn = "unknown" if not feeds else f"{service}.{service_namespace}.svc.cluster.local"
    common = {
        "reporter": "destination",
        "destination_workload": name,
        "destination_workload_namespace": namespace,
        "destination_service": fqdn,
        "destination_service_name": service,
        "destination_service_namespace": service_namespace,
        "request_protocol": "http",
    }
    for code, outcome in _CODES:
        yield Count(REQUESTS, {**common, "response_code": code}, outcome)
        yield Latency(DURATION, {**common, "response_code": code}, outcome)


PROVIDER = MeshsimProvider(
    name="istio",
    routes=(RouteSource(VIRTUAL_SERVICE, splits_of_virtual_service),),
    families=(REQUESTS, DURATION),
    series=series,
)
