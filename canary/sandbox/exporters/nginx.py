"""ingress-nginx: the simulator follows Ingresses of class `nginx` and exports the controller's
request counter and response-time histogram, as the `nginx` builtins query them.

Ingresses are read together, per namespace, as ingress-nginx merges them: each path (host and
path) of an Ingress sends its requests to its backend Service, unless a *canary* Ingress
(`nginx.ingress.kubernetes.io/canary: "true"`) has the same host and path. Then
`canary-weight` percent of them go to the canary Ingress's backend instead, and, when it routes
by header or cookie (`canary-by-header`, `canary-by-cookie`), so do the requests that carry it:
the simulator takes half of the requests to carry it (its simulated clients send no headers).
An Ingress's rate (`meshsim.canary.dev/rate`, else the default) is shared among its paths. Of two
plain Ingresses with the same host and path, the older one serves it (as ingress-nginx does).

Series, per workload, labelled by the first way its requests arrive (`Traffic.routes`):
`nginx_ingress_controller_requests{namespace, ingress, service, canary, method, status}` and
`nginx_ingress_controller_response_duration_seconds_{bucket,sum,count}{namespace, ingress,
service, canary}`. `ingress` is the Ingress of the path (the main one, also for requests served
through its canary Ingress: ingress-nginx reports the location's Ingress) and `canary` the
upstream that served a canary request (`<namespace>-<Service>`), empty otherwise. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from canary.kube.resources import INGRESS
from canary.sandbox.exporters.base import (
    Count,
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
    RouteSource,
)
from canary.sandbox.exporters.ingresses import ingress_class, ingress_paths, ingress_rate
from canary.sandbox.meshsim_model import Feed
from canary.sandbox.meshsim_objects import Backend, Split

CLASS: Final = "nginx"
CANARY: Final = "nginx.ingress.kubernetes.io/canary"
WEIGHT: Final = f"{CANARY}-weight"
BY_HEADER: Final = f"{CANARY}-by-header"
BY_COOKIE: Final = f"{CANARY}-by-cookie"
INGRESS_KIND: Final = "Ingress (nginx)"  # requests the path's own backend serves
CANARY_KIND: Final = "canary Ingress (nginx)"  # requests served through its canary Ingress
MATCHING_SHARE: Final = 0.5  # of an A/B canary path's requests, those that carry the header


def _canary_share(annotations: Mapping[str, Any], where: str, problems: list[str]) -> float:
    """The fraction of a path's requests a canary Ingress with `annotations` takes."""
    try:
        weight = min(max(int(annotations.get(WEIGHT, "0")), 0), 100) / 100
    except ValueError:
        problems.append(f"{where}: {WEIGHT}={annotations.get(WEIGHT)!r} is not an integer; 0")
        weight = 0.0
    if BY_HEADER in annotations or BY_COOKIE in annotations:
        return MATCHING_SHARE + (1 - MATCHING_SHARE) * weight
    return weight


def _meta(manifest: Mapping[str, Any]) -> Mapping[str, Any]:
    return manifest.get("metadata") or {}


def _age(manifest: Mapping[str, Any]) -> tuple[bool, str, str]:
    """Which of two Ingresses with the same path serves it: the older, as ingress-nginx does;
    a parked canary Ingress (`canary: "false"`, newer than the one it copies) always yields."""
    meta = _meta(manifest)
    parked = CANARY in (meta.get("annotations") or {})
    return (parked, str(meta.get("creationTimestamp", "")), str(meta.get("name", "")))


def splits_of_ingresses(
    manifests: Sequence[Mapping[str, Any]], *, ingress_class_name: str = CLASS
) -> list[Split]:
    """The Ingresses of class `ingress_class_name`, read together as ingress-nginx would."""
    ours = [m for m in manifests if ingress_class(m) == ingress_class_name]
    canaries: dict[tuple[str, str, str], Mapping[str, Any]] = {}
    for manifest in ours:
        if (_meta(manifest).get("annotations") or {}).get(CANARY) == "true":
            for item in ingress_paths(manifest):
                namespace = str(_meta(manifest).get("namespace", ""))
                canaries.setdefault((namespace, item.host, item.path), manifest)
    served: set[tuple[str, str, str]] = set()
    splits: list[Split] = []
    for manifest in sorted((m for m in ours if m not in canaries.values()), key=_age):
        meta = _meta(manifest)
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        problems: list[str] = []
        rate = ingress_rate(manifest, problems)
        paths = [p for p in ingress_paths(manifest) if (namespace, p.host, p.path) not in served]
        for item in paths:
            key = (namespace, item.host, item.path)
            served.add(key)
            canary = canaries.get(key)
            share = 1.0 / len(paths)
            label = f"{name}/{item.host}{item.path}"
            to_canary = 0.0
            if canary is not None:
                canary_where = f"Ingress {namespace}/{_meta(canary).get('name')}"
                annotations = _meta(canary).get("annotations") or {}
                to_canary = _canary_share(annotations, canary_where, problems)
                canary_service = next(
                    p.service for p in ingress_paths(canary) if (p.host, p.path) == key[1:]
                )
                splits.append(
                    Split(
                        namespace=namespace,
                        name=f"{label} (canary)",
                        route=name,
                        kind=CANARY_KIND,
                        apex=item.service,
                        backends=(Backend(canary_service, 1.0),),
                        rate=rate,
                        share=share * to_canary,
                    )
                )
            splits.append(
                Split(
                    namespace=namespace,
                    name=label,
                    route=name,
                    kind=INGRESS_KIND,
                    apex=item.service,
                    backends=(Backend(item.service, 1.0),),
                    rate=rate,
                    share=share * (1 - to_canary),
                    problems=tuple(problems),
                )
            )
            problems = []
    return splits


def _labels(feed: Feed) -> dict[str, str]:
    canary = f"{feed.service_namespace}-{feed.service}" if feed.route_kind == CANARY_KIND else ""
    return {
        "namespace": feed.namespace,
        "ingress": feed.route,
        "service": feed.service,
        "canary": canary,
    }


# ingress-nginx's counter has no `_total` suffix; prometheus_client's counter family would
# declare one, so the family is left untyped (PromQL's rate() reads it the same).
REQUESTS = Family("nginx_ingress_controller_requests", "The total number of requests.", "untyped")
DURATION = Family(
    "nginx_ingress_controller_response_duration_seconds",
    "The time spent on receiving the response from the upstream server.",
    "histogram",
)


def series(workload: Exported) -> Iterator[Count | Latency]:
    kinds = (INGRESS_KIND, CANARY_KIND)
    feed = next((f for f in workload.feeds if f.route_kind in kinds), None)
    if feed is None:
        return
    labels = _labels(feed)
    for status, outcome in (("200", Outcome.SUCCEEDED), ("500", Outcome.FAILED)):
        yield Count(REQUESTS, {**labels, "method": "GET", "status": status}, outcome)
    yield Latency(DURATION, labels, Outcome.ALL, seconds=True)


PROVIDER = MeshsimProvider(
    name="nginx",
    routes=(RouteSource(INGRESS, parse_all=splits_of_ingresses),),
    families=(REQUESTS, DURATION),
    series=series,
)
