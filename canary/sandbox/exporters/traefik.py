"""Traefik: the simulator follows TraefikServices and exports Traefik's per-service series.

A weighted TraefikService (traefik.io/v1alpha1 `spec.weighted.services`) divides its requests
among the Services it names by weight (a missing weight is 1, as Traefik has it); a mirroring
one (`spec.mirroring`) sends them to its main Service and copies `percent` of them to each
mirror. Entries naming another TraefikService are left out (the simulator follows Services).

The exporter writes what Traefik's Prometheus metrics would show for each workload reached
through a TraefikService: `traefik_service_requests_total` and the
`traefik_service_request_duration_seconds` histogram, by `code`, `method` and `protocol`, with
the `service` label Traefik's Kubernetes CRD provider gives a Service,
`<namespace>-<name>-<port>@kubernetescrd`: what the `traefik` builtins select on. A workload's
counts go under one stable `service` label, the first of its TraefikService feeds in sorted
order (the canary's: `<ns>-<apex>-canary-<port>`), so counters only grow. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from canary.routers.traefik import KIND, ROUTE
from canary.sandbox.exporters.base import (
    Count,
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
    RouteSource,
)
from canary.sandbox.meshsim_model import Feed
from canary.sandbox.meshsim_objects import (
    Backend,
    Split,
    parse_weight,
    route_rate,
)

PROVIDER_SUFFIX = "@kubernetescrd"


def _is_service(entry: Mapping[str, Any]) -> bool:
    return entry.get("kind", "Service") == "Service" and bool(entry.get("name"))


def _backend(entry: Mapping[str, Any], weight: float) -> Backend:
    port = entry.get("port")
    return Backend(
        service=str(entry["name"]),
        weight=weight,
        namespace=entry.get("namespace"),
        port=port if isinstance(port, int | str) and not isinstance(port, bool) else None,
    )


def splits_of_traefik_service(manifest: Mapping[str, Any]) -> list[Split]:
    """A TraefikService as one Split (none when it names no Service); unusable weights and
    rates are reported as problems and read as 0 or the default rate."""
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    where = f"{KIND} {namespace}/{name}"
    problems: list[str] = []
    rate = route_rate(meta, where, problems)
    backends: list[Backend] = []
    mirrors: list[Backend] = []
    weighted = spec.get("weighted")
    mirroring = spec.get("mirroring")
    if isinstance(weighted, Mapping):
        for entry in weighted.get("services") or []:
            if not isinstance(entry, Mapping) or not _is_service(entry):
                continue
            try:
                weight = parse_weight(entry.get("weight", 1))
            except ValueError as error:
                problems.append(f"{where}: service {entry.get('name')}: {error}; using 0")
                weight = 0.0
            backends.append(_backend(entry, weight))
    elif isinstance(mirroring, Mapping) and _is_service(mirroring):
        backends.append(_backend(mirroring, 1.0))
        for entry in mirroring.get("mirrors") or []:
            if not isinstance(entry, Mapping) or not _is_service(entry):
                continue
            percent = entry.get("percent", 0)
            if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
                problems.append(
                    f"{where}: mirror {entry.get('name')}: percent {percent!r}; using 0"
                )
                percent = 0
            mirrors.append(_backend(entry, percent / 100))
    if not backends:
        return []
    return [
        Split(
            namespace=namespace,
            name=name,
            apex=name,
            backends=tuple(backends),
            kind=KIND,
            rate=rate,
            problems=tuple(problems),
            mirrors=tuple(mirrors),
            route=name,
        )
    ]


def service_label(feed: Feed) -> str:
    """The `service` label Traefik's CRD provider gives the Service of `feed`."""
    port = "" if feed.port is None else f"-{feed.port}"
    return f"{feed.service_namespace}-{feed.service}{port}{PROVIDER_SUFFIX}"


REQUESTS = Family(
    "traefik_service_requests", "How many HTTP requests processed on a service.", "counter"
)
DURATION = Family(
    "traefik_service_request_duration_seconds",
    "How long it took to process the request on a service, partitioned by status code, "
    "protocol, and method.",
    "histogram",
)


def series(workload: Exported) -> Iterator[Count | Latency]:
    names = sorted(service_label(f) for f in workload.feeds if f.route_kind == KIND)
    if not names:
        return
    for code, outcome in (("200", Outcome.SUCCEEDED), ("500", Outcome.FAILED)):
        labels = {"service": names[0], "code": code, "method": "GET", "protocol": "http"}
        yield Count(REQUESTS, labels, outcome)
        yield Latency(DURATION, labels, outcome, seconds=True)


PROVIDER = MeshsimProvider(
    name="traefik",
    routes=(RouteSource(ROUTE, splits_of_traefik_service),),
    families=(REQUESTS, DURATION),
    series=series,
)
