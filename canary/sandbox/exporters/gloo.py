"""Gloo Edge: the simulator follows RouteTables and exports Gloo's Envoy cluster statistics.

Every route of a RouteTable (gateway.solo.io/v1) with a `routeAction.multi` is one split: its
destinations share the requests by weight (a `routeAction.single` sends them all to one). A
destination names an Upstream; the simulator reads the Service behind it from the Upstream's
name, as Flagger names the Upstreams it writes
(`<namespace>-<apex>-{primary,canary}upstream-<port>` for `<apex>-{primary,canary}`), or from a
`kube` destination (a Service and port); other destinations are left out. The RouteTable's
`meshsim.canary.dev/rate` (or the default rate) is shared equally among its routes.

Gloo's Envoy statistics are written by `envoy.py` for every Envoy-based provider; this module
names the cluster a feed through a RouteTable reaches: `<upstream>_<namespace>`, the name Gloo
gives an Upstream's cluster. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from canary.kube.resources import ROUTE_TABLE
from canary.sandbox.exporters.base import MeshsimProvider, RouteSource
from canary.sandbox.meshsim_model import Feed
from canary.sandbox.meshsim_objects import Backend, Split, route_rate

KIND = ROUTE_TABLE.kind
_FLAGGER_UPSTREAM = re.compile(r"^(?P<apex>.+)-(?P<role>primary|canary)upstream-(?P<port>\d+)$")


def _backend(destination: Mapping[str, Any], namespace: str, weight: float) -> Backend | None:
    inner = destination.get("destination") or {}
    kube = inner.get("kube") or {}
    if kube:
        ref = kube.get("ref") or {}
        port = kube.get("port")
        return Backend(
            service=str(ref.get("name", "")),
            weight=weight,
            namespace=ref.get("namespace"),
            port=port if isinstance(port, int) else None,
        )
    upstream = inner.get("upstream") or {}
    upstream_namespace = str(upstream.get("namespace") or namespace)
    name = str(upstream.get("name", "")).removeprefix(f"{upstream_namespace}-")
    found = _FLAGGER_UPSTREAM.match(name)
    if found is None:
        return None
    return Backend(
        service=f"{found['apex']}-{found['role']}",
        weight=weight,
        namespace=upstream_namespace,
        port=int(found["port"]),
    )


def splits_of_route_table(manifest: Mapping[str, Any]) -> list[Split]:
    """A RouteTable as one Split per route with weighted destinations."""
    meta = manifest.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    where = f"RouteTable {namespace}/{name}"
    problems: list[str] = []
    rate = route_rate(meta, where, problems)
    routes: list[tuple[Backend, ...]] = []
    for entry in (manifest.get("spec") or {}).get("routes") or []:
        action = entry.get("routeAction") or {}
        multi = (action.get("multi") or {}).get("destinations") or []
        if not multi and action.get("single"):  # one destination, all the requests
            multi = [{"destination": action["single"], "weight": 1}]
        backends = []
        for destination in multi:
            weight = destination.get("weight", 0)
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
                problems.append(f"{where}: destination weight {weight!r}; using 0")
                weight = 0
            backend = _backend(destination, namespace, float(weight))
            if backend is not None:
                backends.append(backend)
        if backends:
            routes.append(tuple(backends))
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
            problems=tuple(problems) if index == 0 else (),
        )
        for index, backends in enumerate(routes)
    ]


def cluster_name(feed: Feed) -> str:
    """Gloo's name for the Envoy cluster of the Upstream in front of the feed's Service."""
    namespace, port = feed.service_namespace, feed.port or 80
    for role in ("primary", "canary"):
        if feed.service.endswith(f"-{role}"):
            apex = feed.service.removesuffix(f"-{role}")
            return f"{namespace}-{apex}-{role}upstream-{port}_{namespace}"
    return f"{namespace}-{feed.service}-{port}_{namespace}"  # Gloo discovery's naming


PROVIDER = MeshsimProvider(
    name="gloo",
    routes=(RouteSource(ROUTE_TABLE, splits_of_route_table),),
)
