"""APISIX: the simulator follows ApisixRoutes and exports APISIX's Prometheus plugin series.

Each `http` rule of an ApisixRoute (apisix.apache.org/v2) is one APISIX route, named as the
APISIX Ingress Controller names it, `<namespace>_<ApisixRoute>_<rule>`; it divides its requests
among its backends' Services by weight (a missing weight is 100, APISIX's default). The route's
`meshsim.canary.dev/rate` (or the default rate) is shared equally among its rules. Priorities
are not modelled: a user's ApisixRoute and the canary copy of its rule both carry requests
(the original to the apex Service), where APISIX would send them all through the copy.

The exporter writes, for each workload reached through an ApisixRoute, `apisix_http_status`
(by `code`) and the `apisix_http_latency` histogram (`type="request"`, milliseconds), with the
workload's pod as the upstream `node`, under one stable `route` label: the first of its
ApisixRoute feeds in sorted order, which is the canary copy's when it has one (the copy's name
extends the original's, and `-` sorts before `_`), as APISIX, preferring the copy, would count
it. Counters only grow. As in APISIX, a route's series cover all its upstreams: the `apisix`
builtins judge the canary copy's traffic, primary and canary together, as Flagger's do. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from canary.routers.apisix import KIND, ROUTE
from canary.sandbox.exporters.base import (
    Count,
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
    RouteSource,
)
from canary.sandbox.meshsim_objects import (
    Backend,
    Split,
    parse_weight,
    route_rate,
)

DEFAULT_WEIGHT = 100


def splits_of_apisix_route(manifest: Mapping[str, Any]) -> list[Split]:
    """An ApisixRoute as one Split per http rule with backends; `route` is the APISIX route's
    name without the namespace (`<ApisixRoute>_<rule>`)."""
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    where = f"{KIND} {namespace}/{name}"
    problems: list[str] = []
    rate = route_rate(meta, where, problems)
    rules: list[tuple[str, tuple[Backend, ...]]] = []
    for index, rule in enumerate(spec.get("http") or []):
        if not isinstance(rule, Mapping):
            continue
        backends = []
        for entry in rule.get("backends") or []:
            if not isinstance(entry, Mapping) or not entry.get("serviceName"):
                continue
            service = str(entry["serviceName"])
            try:
                weight = parse_weight(entry.get("weight", DEFAULT_WEIGHT))
            except ValueError as error:
                problems.append(f"{where}: rule {index} backend {service}: {error}; using 0")
                weight = 0.0
            port = entry.get("servicePort")
            backends.append(
                Backend(
                    service=service,
                    weight=weight,
                    port=port
                    if isinstance(port, int | str) and not isinstance(port, bool)
                    else None,
                )
            )
        if backends:
            rules.append((str(rule.get("name") or index), tuple(backends)))
    return [
        Split(
            namespace=namespace,
            name=f"{name}_{rule}",
            route=f"{name}_{rule}",
            kind=KIND,
            apex=name,
            backends=backends,
            rate=rate,
            share=1.0 / len(rules),
            problems=tuple(problems) if index == 0 else (),
        )
        for index, (rule, backends) in enumerate(rules)
    ]


# A counter named without `_total`, as APISIX's nginx-lua-prometheus names it; the client
# library would add the suffix to a counter family, so it goes out untyped.
STATUS = Family("apisix_http_status", "HTTP status codes per service in APISIX", "untyped")
LATENCY = Family(
    "apisix_http_latency", "HTTP request latency in milliseconds per service in APISIX", "histogram"
)


def series(workload: Exported) -> Iterator[Count | Latency]:
    routes = sorted(
        f"{feed.namespace}_{feed.route}" for feed in workload.feeds if feed.route_kind == KIND
    )
    if not routes:
        return
    route, node = routes[0], workload.pod_name
    for code, outcome in (("200", Outcome.SUCCEEDED), ("500", Outcome.FAILED)):
        labels = {"code": code, "route": route, "matched_uri": "/*", "matched_host": ""}
        yield Count(STATUS, {**labels, "service": "", "consumer": "", "node": node}, outcome)
    labels = {"type": "request", "route": route, "service": "", "consumer": "", "node": node}
    yield Latency(LATENCY, labels, Outcome.ALL)


PROVIDER = MeshsimProvider(
    name="apisix",
    routes=(RouteSource(ROUTE, splits_of_apisix_route),),
    families=(STATUS, LATENCY),
    series=series,
)
