"""The Skipper router: a canary Ingress beside the user's, weighted by Skipper's annotations.

As Flagger does for `provider: skipper`: the Canary names the user's Ingress
(`spec.ingressRef`), whose paths send requests to the apex Service; the router writes
`<ingressRef.name>-canary` (networking.k8s.io/v1), a copy of it in which each path to the apex
Service goes to `<apex>-primary` and a copy of that path, added after the rule's paths, to
`<apex>-canary`. Two annotations route it:

* `zalando.org/backend-weights: {"<apex>-canary": c, "<apex>-primary": p}` (JSON): how Skipper
  divides the path's requests between the two backends;
* `zalando.org/skipper-predicate`: `Weight(100)` first (the canary Ingress's routes win over the
  user's Ingress's routes for the same path), or `False()` first when the canary weight is 0
  (its routes are off, and the user's Ingress serves), followed by the user's own predicates.

Skipper cannot route by header here (Flagger's Skipper router has no A/B testing), mirror, or
keep sessions: the controller refuses those before building it. The user's Ingress is never
written; the canary Ingress is adopted or refused as `routers/ingress.py` says.

This module builds the object and applies it; it must not decide weights, nor touch Services.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import INGRESS, Reader
from canary.routers.base import RouteError, RouteRef, as_percentages, kept_weights
from canary.routers.ingress import (
    INGRESS_REF,
    IngressPair,
    backend_service,
    canary_metadata,
    ingress_ref,
    no_apex_backend,
)
from canary.routers.kind import RouterKind
from canary.routers.settings import RouteSettings

WEIGHTS: Final = "zalando.org/backend-weights"
PREDICATE: Final = "zalando.org/skipper-predicate"
ACTIVE: Final = "Weight(100)"
DISABLED: Final = "False()"


def _ours(key: str) -> bool:
    return key in (WEIGHTS, PREDICATE)


def with_predicate(raw: str, first: str) -> str:
    """The predicates `raw` (`A && B`) with `first` in first place, and neither ACTIVE nor
    DISABLED anywhere else."""
    kept = [p.strip() for p in raw.split("&&")]
    return " && ".join([first, *(p for p in kept if p and p not in (ACTIVE, DISABLED))])


def canary_ingress(
    main: Mapping[str, Any], route: RouteRef, *, primary: int, canary: int
) -> dict[str, Any]:
    """The canary Ingress copied from the user's Ingress `main` at `primary`/`canary` percent.
    RouteError when no path of `main` sends requests to the apex Service."""
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(f"weights must be percentages summing to 100, got {primary}/{canary}")
    spec = copy.deepcopy(dict(main.get("spec") or {}))
    found = 0
    for rule in spec.get("rules") or []:
        paths = (rule.get("http") or {}).get("paths") or []
        copies = []
        for path in paths:
            if backend_service(path) == route.apex:
                path["backend"]["service"]["name"] = route.primary_service
                twin = copy.deepcopy(path)
                twin["backend"]["service"]["name"] = route.canary_service
                copies.append(twin)
        paths.extend(copies)
        found += len(copies)
    if found == 0:
        raise no_apex_backend(main, route)
    weights = {route.primary_service: primary, route.canary_service: canary}
    user_predicate = ((main.get("metadata") or {}).get("annotations") or {}).get(PREDICATE, "")
    annotations = {
        WEIGHTS: json.dumps(weights, sort_keys=True, separators=(",", ":")),
        PREDICATE: with_predicate(str(user_predicate), DISABLED if canary == 0 else ACTIVE),
    }
    metadata = canary_metadata(main, route, annotations=annotations, ours=_ours)
    return {
        "apiVersion": INGRESS.api_version,
        "kind": "Ingress",
        "metadata": metadata,
        "spec": spec,
    }


def ingress_weights(obj: Mapping[str, Any], route: RouteRef) -> tuple[int, int]:
    """(primary, canary) of a canary Ingress's backend weights, as percentages of their sum;
    RouteError when they do not weigh both Services."""
    meta = obj.get("metadata") or {}
    where = f"Ingress {route.namespace}/{meta.get('name')}"
    raw = (meta.get("annotations") or {}).get(WEIGHTS)
    try:
        weights = json.loads(raw) if isinstance(raw, str) else None
        primary = Decimal(str(weights[route.primary_service]))  # type: ignore[index]
        canary = Decimal(str(weights[route.canary_service]))  # type: ignore[index]
    except (ValueError, TypeError, KeyError, InvalidOperation):
        raise RouteError(
            f"{where} has no {WEIGHTS} weighing {route.primary_service} and "
            f"{route.canary_service}: {raw!r}"
        ) from None
    if primary < 0 or canary < 0 or primary + canary == 0:
        raise RouteError(f"{where} has {WEIGHTS} {raw!r}: not two weights with a positive sum")
    return as_percentages(primary, canary)


class SkipperRouter:
    """The `Router` for Skipper: writes `<ingress>-canary`, reads the user's Ingress."""

    def __init__(self, api: ApiClient, ingress: str, *, read: Reader | None = None) -> None:
        self._pair = IngressPair(api, read or resources.api_reader(api), ingress)

    @property
    def name(self) -> str:
        return self._pair.canary_name

    async def reconcile(self, route: RouteRef) -> None:
        """Write the canary Ingress from the user's, keeping its weights (0 when it is new or
        unreadable)."""
        existing = await self._pair.canary(route)
        weights = kept_weights(existing, lambda found: ingress_weights(found, route))
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        if mirror:
            raise ValueError("provider skipper cannot mirror requests (analysis.mirror)")
        main = await self._pair.main(route)
        manifest = canary_ingress(main, route, primary=primary, canary=canary)
        await self._pair.write(route, manifest, ours=_ours)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._pair.canary(route)
        return None if existing is None else ingress_weights(existing, route)


def build(api: ApiClient, read: Reader | None, settings: RouteSettings) -> SkipperRouter:
    """The router of a Canary with `settings`; ValueError naming `spec.ingressRef` when unusable."""
    return SkipperRouter(api, ingress_ref(settings), read=read)


ROUTER: Final = RouterKind(
    build=build,
    route=None,  # `<ingress>-canary` is named after the user's Ingress, not the apex
    applies=frozenset({INGRESS_REF}),
    validate=ingress_ref,
)
