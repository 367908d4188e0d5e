"""Skipper: the simulator follows Ingresses of class `skipper` and exports Skipper's per-route
histograms, as the `skipper` builtins query them.

Ingresses are read together, per namespace, as Skipper routes them: of the Ingresses with a path
(host and path), the one whose `zalando.org/skipper-predicate` has the highest `Weight(n)` serves
it (the older one among equals), and one whose predicate holds `False()` serves nothing. Its
backends for that path divide the requests by `zalando.org/backend-weights` (Services it does
not name get none; equally when it is absent or all zero). An Ingress's rate
(`meshsim.canary.dev/rate`, else the default) is shared among its paths.

Series, per workload, labelled by the first way its requests arrive (`Traffic.routes`):
`skipper_response_duration_seconds_{bucket,sum,count}{route, code, method}` and
`skipper_serve_route_duration_seconds_{bucket,sum,count}{route}`, where `route` is Skipper's
route id `kube_<namespace>__<ingress>__<host>__<path>__<service>` with every non-word character
`_` (the simulator leaves the host and path parts empty). No I/O.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from canary.kube.resources import INGRESS
from canary.sandbox.exporters.base import (
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
    RouteSource,
)
from canary.sandbox.exporters.ingresses import ingress_class, ingress_paths, ingress_rate
from canary.sandbox.meshsim_objects import Backend, Split

CLASS: Final = "skipper"
WEIGHTS: Final = "zalando.org/backend-weights"
PREDICATE: Final = "zalando.org/skipper-predicate"
KIND: Final = "Ingress (skipper)"
_WEIGHT = re.compile(r"^Weight\((\d+)\)$")


def _predicates(manifest: Mapping[str, Any]) -> list[str]:
    raw = ((manifest.get("metadata") or {}).get("annotations") or {}).get(PREDICATE, "")
    return [p.strip() for p in str(raw).split("&&") if p.strip()]


def _priority(manifest: Mapping[str, Any]) -> int:
    found = [_WEIGHT.match(p) for p in _predicates(manifest)]
    return max((int(m.group(1)) for m in found if m), default=0)


def _backend_weights(manifest: Mapping[str, Any], problems: list[str]) -> dict[str, float]:
    meta = manifest.get("metadata") or {}
    raw = (meta.get("annotations") or {}).get(WEIGHTS)
    if raw is None:
        return {}
    try:
        weights = json.loads(str(raw))
        return {str(k): max(float(v), 0.0) for k, v in weights.items()}
    except (ValueError, TypeError, AttributeError):
        where = f"Ingress {meta.get('namespace')}/{meta.get('name')}"
        problems.append(f"{where}: {WEIGHTS}={raw!r} is not a JSON object of weights; ignored")
        return {}


def splits_of_ingresses(manifests: Sequence[Mapping[str, Any]]) -> list[Split]:
    """The Ingresses of class `skipper`, read together as Skipper would route them."""
    ours = [m for m in manifests if ingress_class(m) == CLASS and "False()" not in _predicates(m)]

    def rank(manifest: Mapping[str, Any]) -> tuple[int, str, str]:
        meta = manifest.get("metadata") or {}
        return (-_priority(manifest), str(meta.get("creationTimestamp", "")), str(meta.get("name")))

    served: set[tuple[str, str, str]] = set()
    splits: list[Split] = []
    for manifest in sorted(ours, key=rank):
        meta = manifest.get("metadata") or {}
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        problems: list[str] = []
        rate = ingress_rate(manifest, problems)
        weights = _backend_weights(manifest, problems)
        keys: dict[tuple[str, str], list[str]] = {}
        for item in ingress_paths(manifest):
            if (namespace, item.host, item.path) not in served:
                keys.setdefault((item.host, item.path), []).append(item.service)
        for (host, path), services in keys.items():
            served.add((namespace, host, path))
            named = {s: weights.get(s, 0.0) for s in services} if weights else {}
            if not named or sum(named.values()) <= 0:
                named = dict.fromkeys(services, 1.0)
            splits.append(
                Split(
                    namespace=namespace,
                    name=f"{name}/{host}{path}",
                    route=name,
                    kind=KIND,
                    apex=services[0],
                    backends=tuple(Backend(s, w) for s, w in named.items()),
                    rate=rate,
                    share=1.0 / len(keys),
                    problems=tuple(problems),
                )
            )
            problems = []
    return splits


def route_id(namespace: str, ingress: str, service: str) -> str:
    """Skipper's id of the route of an Ingress's path to `service` (host and path left empty)."""
    parts = ("kube", namespace, ingress, "", "", service)
    return re.sub(r"\W", "_", "__".join(parts)).replace("kube__", "kube_", 1)


RESPONSES = Family(
    "skipper_response_duration_seconds",
    "Duration of the responses, by route and status code.",
    "histogram",
)
SERVED = Family("skipper_serve_route_duration_seconds", "Duration of serving a route.", "histogram")


def series(workload: Exported) -> Iterator[Latency]:
    feed = next((f for f in workload.feeds if f.route_kind == KIND), None)
    if feed is None:
        return
    route = route_id(feed.namespace, feed.route, feed.service)
    for code, outcome in (("200", Outcome.SUCCEEDED), ("500", Outcome.FAILED)):
        labels = {"route": route, "code": code, "method": "GET"}
        yield Latency(RESPONSES, labels, outcome, seconds=True)
    yield Latency(SERVED, {"route": route}, Outcome.ALL, seconds=True)


PROVIDER = MeshsimProvider(
    name="skipper",
    routes=(RouteSource(INGRESS, parse_all=splits_of_ingresses),),
    families=(RESPONSES, SERVED),
    series=series,
)
