"""Contour: the simulator follows HTTPProxies and exports Contour's Envoy cluster statistics.

Every route of an HTTPProxy (projectcontour.io/v1) that names Services is one split: its
Services share the requests by weight (Contour splits evenly when every weight is 0 or left
out), and a Service marked `mirror` receives a copy of the fraction its weight gives (all when
it has none). The HTTPProxy's `meshsim.canary.dev/rate` (or the default rate) is shared equally
among its routes. A root HTTPProxy that only includes others has no split of its own: the
included one carries the traffic.

Contour's Envoy statistics (`envoy_cluster_upstream_rq`, `envoy_cluster_upstream_rq_time`) are
written by `envoy.py` for every Envoy-based provider; this module names the cluster a feed
through an HTTPProxy reaches: `<namespace>_<service>_<port>`, the statistics name Contour
gives the upstream cluster of that Service's port. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canary.kube.resources import HTTP_PROXY
from canary.sandbox.exporters.base import MeshsimProvider, RouteSource
from canary.sandbox.meshsim_model import Feed
from canary.sandbox.meshsim_objects import Backend, Split, route_rate

KIND = HTTP_PROXY.kind


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return float(value)


def _route_backends(
    entry: Mapping[str, Any], where: str, problems: list[str]
) -> tuple[tuple[Backend, ...], tuple[Backend, ...]]:
    """(weighted Services, mirrors) of one HTTPProxy route."""
    weighted, mirrors = [], []
    for service in entry.get("services") or []:
        name = str(service.get("name", ""))
        port = service.get("port")
        port = port if isinstance(port, int) and not isinstance(port, bool) else None
        weight = _number(service.get("weight", 0))
        if weight is None:
            written = service.get("weight")
            problems.append(f"{where}: service {name} has weight {written!r}; using 0")
            weight = 0.0
        if service.get("mirror"):
            fraction = weight / 100 if "weight" in service and weight > 0 else 1.0
            mirrors.append(Backend(service=name, weight=min(fraction, 1.0), port=port))
        else:
            weighted.append(Backend(service=name, weight=weight, port=port))
    if weighted and all(b.weight == 0 for b in weighted):  # Contour: an even split
        weighted = [Backend(service=b.service, weight=1.0, port=b.port) for b in weighted]
    return tuple(weighted), tuple(mirrors)


def splits_of_http_proxy(manifest: Mapping[str, Any]) -> list[Split]:
    """An HTTPProxy as one Split per route that names Services."""
    meta = manifest.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    where = f"HTTPProxy {namespace}/{name}"
    problems: list[str] = []
    rate = route_rate(meta, where, problems)
    routes = []
    for index, entry in enumerate((manifest.get("spec") or {}).get("routes") or []):
        weighted, mirrors = _route_backends(entry, f"{where}: route {index}", problems)
        if weighted:
            routes.append((weighted, mirrors))
    return [
        Split(
            namespace=namespace,
            name=f"{name}/route-{index}" if len(routes) > 1 else name,
            route=name,
            kind=KIND,
            apex=name,
            backends=weighted,
            rate=rate,
            share=1.0 / len(routes),
            mirrors=mirrors,
            problems=tuple(problems) if index == 0 else (),
        )
        for index, (weighted, mirrors) in enumerate(routes)
    ]


def cluster_name(feed: Feed) -> str:
    """The statistics name of the Envoy cluster Contour makes for the feed's Service port."""
    return f"{feed.service_namespace}_{feed.service}_{feed.port or 80}"


PROVIDER = MeshsimProvider(
    name="contour",
    routes=(RouteSource(HTTP_PROXY, splits_of_http_proxy),),
)
