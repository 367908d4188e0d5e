"""The APISIX router: a canary copy of the user's ApisixRoute (apisix.apache.org/v2), as Flagger
writes it.

The Canary names the user's ApisixRoute in `spec.routeRef`. Of its `http` rules, the one whose
backend is the apex Service is copied into a new ApisixRoute, `<routeRef>-<apex>-canary`, at
priority 10000 (so APISIX prefers it to the original for the same requests), with its one
backend replaced by two: `<apex>-primary` and `<apex>-canary` on the original's `servicePort`
(and `resolveGranularity`, `subset`), weighted in percent. The copy keeps the original's labels,
annotations and `ingressClassName`; it is re-copied on every reconcile, so an edit of the
original rule (hosts, paths, plugins) reaches it. The original is never written. Unlike
Flagger, the copy leaves out the original's `stream` routes (copied, APISIX would serve them
twice).

Weights only: A/B matching, mirroring and session affinity are refused by the controller before
a router is built (as Flagger, which ignores them with APISIX). The route object is not named
after the apex, so the registry declares none (`route=None`): the copy is found by its name and
owned by the Canary; `release` deletes it when the Canary goes (the original then serves again).

This module builds the object and applies it; it must not decide weights, nor touch Services.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import Reader
from canary.routers.base import (
    GITOPS_OPT_OUT,
    RouteError,
    Router,
    RouteRef,
    as_percentages,
    kept_weights,
    route_metadata,
)
from canary.routers.kind import RouterKind
from canary.routers.settings import RouteSettings

API_VERSION: Final = "apisix.apache.org/v2"
KIND: Final = "ApisixRoute"
PROVIDER: Final = "apisix"
ROUTE: Final = resources.resource_kind(API_VERSION, KIND)
PRIORITY: Final = 10000  # Flagger's: above any priority users give their own rules
ROUTE_REF: Final = "spec.routeRef"
APPLIES: Final = frozenset({ROUTE_REF})  # the provider fields it honours (the registry's)
# Annotations of the original that describe it, not the copy.
_NOT_COPIED: Final = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})


def canary_route_name(route_ref: str, apex: str) -> str:
    """The name of the canary ApisixRoute: `<routeRef>-<apex>-canary`, Flagger's."""
    return f"{route_ref}-{apex}-canary"


def route_ref_name(settings: RouteSettings) -> str:
    """The name of the user's ApisixRoute; ValueError naming `spec.routeRef` when it is not one."""
    ref = settings.object_ref(ROUTE_REF)
    if ref is None:
        raise ValueError(
            f"{ROUTE_REF} is required with provider {PROVIDER}: name the ApisixRoute "
            "(apisix.apache.org/v2) whose rule sends to the apex Service"
        )
    if ref.kind not in ("", KIND):
        raise ValueError(
            f"{ROUTE_REF}.kind must be {KIND} with provider {PROVIDER}, not {ref.kind}"
        )
    if ref.api_version not in ("", API_VERSION):
        raise ValueError(
            f"{ROUTE_REF}.apiVersion must be {API_VERSION} with provider {PROVIDER}, "
            f"not {ref.api_version}"
        )
    return ref.name


def check_settings(settings: RouteSettings) -> None:
    """ValueError naming the field when the Canary asks for what the copy cannot do."""
    route_ref_name(settings)
    if settings.matches:
        raise ValueError(
            f"spec.analysis.match cannot be routed by provider {PROVIDER} (Flagger's ApisixRoute "
            "copy balances by weight only); use gatewayapi:v1 for A/B testing"
        )
    if settings.affinity is not None:
        raise ValueError(
            f"spec.analysis.sessionAffinity cannot be routed by provider {PROVIDER}; "
            "use gatewayapi:v1 for sticky canary sessions"
        )


def _check_weights(primary: int, canary: int) -> None:
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary} canary={canary}"
        )


def _rule_to(original: Mapping[str, Any], service: str, where: str) -> dict[str, Any]:
    """The first http rule with a backend to `service`; RouteError when there is none."""
    for rule in (original.get("spec") or {}).get("http") or []:
        if any(b.get("serviceName") == service for b in rule.get("backends") or []):
            return dict(rule)
    raise RouteError(f"{where} has no http rule with a backend to Service {service}")


def canary_route(
    original: Mapping[str, Any],
    route: RouteRef,
    *,
    primary_weight: int,
    canary_weight: int,
) -> dict[str, Any]:
    """The canary ApisixRoute copied from `original` (the user's) at the given weights;
    RouteError when `original` has no rule with exactly one backend, the apex Service."""
    _check_weights(primary_weight, canary_weight)
    meta = original.get("metadata") or {}
    where = f"{KIND} {route.namespace}/{meta.get('name')} (spec.routeRef)"
    rule = copy.deepcopy(_rule_to(original, route.apex, where))
    backends = rule.get("backends") or []
    if len(backends) != 1:
        raise RouteError(
            f"{where}: http rule {rule.get('name')!r} has {len(backends)} backends; the "
            f"{PROVIDER} provider needs exactly one, the Service {route.apex}"
        )
    kept = {k: v for k, v in backends[0].items() if k in ("servicePort", "resolveGranularity")}
    if "subset" in backends[0]:
        kept["subset"] = backends[0]["subset"]
    rule["priority"] = PRIORITY
    rule["backends"] = [
        {**backends[0], "serviceName": route.primary_service, "weight": primary_weight},
        {**kept, "serviceName": route.canary_service, "weight": canary_weight},
    ]
    spec: dict[str, Any] = {"http": [rule]}
    class_name = (original.get("spec") or {}).get("ingressClassName")
    if class_name is not None:
        spec["ingressClassName"] = class_name
    metadata = route_metadata(route)
    metadata["name"] = canary_route_name(str(meta.get("name")), route.apex)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in _NOT_COPIED}
    metadata["annotations"] = {**annotations, **GITOPS_OPT_OUT}
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def _weight(backend: Mapping[str, Any], where: str) -> Decimal:
    value = backend.get("weight", 100)  # APISIX's default weight
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RouteError(f"{where}: backend {backend.get('serviceName')}: weight {value!r}")
    return Decimal(value)


def route_weights(obj: Mapping[str, Any], route: RouteRef) -> tuple[int, int]:
    """(primary, canary) in whole percent of their sum, from the rule that sends to the primary;
    RouteError when there is none, or it sends to neither Service."""
    where = f"{KIND} {route.namespace}/{(obj.get('metadata') or {}).get('name')}"
    rule = _rule_to(obj, route.primary_service, where)
    totals = {route.primary_service: Decimal(0), route.canary_service: Decimal(0)}
    for backend in rule.get("backends") or []:
        name = backend.get("serviceName")
        if name in totals:
            totals[name] += _weight(backend, where)
    primary, canary = totals[route.primary_service], totals[route.canary_service]
    if primary + canary == 0:
        raise RouteError(
            f"{where} sends to neither {route.primary_service} nor {route.canary_service}"
        )
    return as_percentages(primary, canary)


class ApisixRouter:
    """The `Router` writing the canary copy of one user's ApisixRoute."""

    def __init__(
        self, api: ApiClient, settings: RouteSettings, *, read: Reader | None = None
    ) -> None:
        check_settings(settings)
        self._api = api
        self.route_ref = route_ref_name(settings)
        self._reader = read or resources.api_reader(api)

    async def _original(self, route: RouteRef) -> dict[str, Any]:
        found = await self._reader(ROUTE, route.namespace, self.route_ref)
        if found is None:
            raise RouteError(
                f"{KIND} {route.namespace}/{self.route_ref} (spec.routeRef) does not exist; "
                "create it, with an http rule whose backend is the apex Service"
            )
        return found

    async def _canary(self, route: RouteRef) -> dict[str, Any] | None:
        name = canary_route_name(self.route_ref, route.apex)
        return await self._reader(ROUTE, route.namespace, name)

    async def reconcile(self, route: RouteRef) -> None:
        """Copy the original's rule afresh, at the copy's current weights (100/0 when it is
        absent or no longer routes to the two Services, the primary's side)."""
        existing = await self._canary(route)
        weights = kept_weights(existing, lambda found: route_weights(found, route))
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        if mirror:
            raise ValueError(f"provider {PROVIDER} cannot mirror requests")
        original = await self._original(route)
        manifest = canary_route(original, route, primary_weight=primary, canary_weight=canary)
        await resources.apply(self._api, manifest)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        """The copy's weights; RouteError first when the original cannot be copied (missing,
        no rule to the apex, several backends), so the Canary says why before anything runs."""
        canary_route(await self._original(route), route, primary_weight=100, canary_weight=0)
        existing = await self._canary(route)
        return None if existing is None else route_weights(existing, route)


async def release(api: ApiClient, route: RouteRef) -> str:
    """Before the Canary is deleted: delete the canary copies it owns (found by owner and
    name, as the routeRef is not at hand), so the original ApisixRoute serves again."""
    owner_uid = route.owner.uid if route.owner is not None else ""
    found = await resources.list_objects(api, ROUTE, namespace=route.namespace) or []
    deleted = []
    for obj in found:
        meta = obj.get("metadata") or {}
        owned = any(r.get("uid") == owner_uid for r in meta.get("ownerReferences") or [])
        name = str(meta.get("name", ""))
        if owner_uid and owned and name.endswith(f"-{route.apex}-canary"):
            await resources.delete(api, ROUTE, name, namespace=route.namespace)
            deleted.append(f"{KIND} {route.namespace}/{name} deleted")
    return "; ".join(deleted)


def build(api: ApiClient, read: Reader | None, settings: RouteSettings) -> Router:
    """The registry's builder: an `ApisixRouter` for `settings` (ValueError naming a field)."""
    return ApisixRouter(api, settings, read=read)


# What the registry lists for provider `apisix`.
ROUTER: Final = RouterKind(build=build, route=None, applies=APPLIES, release=release)
