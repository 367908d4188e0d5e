"""The Traefik router: one TraefikService (traefik.io/v1alpha1) per Canary, as Flagger writes it.

The TraefikService is named after the apex Service and balances by weight (`spec.weighted`)
between `<apex>-primary` and `<apex>-canary`, both on the Canary's `service.port`; the canary
entry is left out while its weight is 0, as Flagger does. Users point their IngressRoute at it
(`services: [{name: <apex>, kind: TraefikService}]`). `service.apex`'s labels and annotations go
on it too. Weights are written as percentages and read back relative to their sum.

Blue/green with `analysis.mirror` (which Flagger's Traefik router ignores): while the run is
analysed the object is a mirroring TraefikService instead (`spec.mirroring`: every request to
the primary, a copy of `analysis.mirrorWeight` percent of them, all when unset, to the canary).

With `revertOnDeletion`, deleting the Canary keeps the TraefikService (the user's IngressRoute
names it) and sends everything to the apex Service, which then selects the target's pods;
Flagger leaves it to garbage collection, and the IngressRoute then points at nothing.

A TraefikService cannot match requests nor pin sessions: the controller refuses
`analysis.match` and `analysis.sessionAffinity` with this provider before building it. Other
routing fields (`service.timeout`, `headers`, `retries`, `corsPolicy`, hosts, gateways) belong to
the user's IngressRoute and are not written, as in Flagger.

This module builds the object and applies it; it must not decide weights, nor touch Services.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import Reader
from canary.routers.base import RouteError, Router, RouteRef, as_percentages, route_metadata
from canary.routers.kind import RouterKind
from canary.routers.settings import RouteSettings

API_VERSION: Final = "traefik.io/v1alpha1"
KIND: Final = "TraefikService"
PROVIDER: Final = "traefik"
# The kind of the route object (the registry's `RouterKind.route`).
ROUTE: Final = resources.resource_kind(API_VERSION, KIND)


def _check_weights(primary: int, canary: int) -> None:
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary} canary={canary}"
        )


def check_settings(settings: RouteSettings) -> None:
    """ValueError naming the field when the Canary asks for what a TraefikService cannot do."""
    if not 1 <= settings.port <= 65535:
        raise ValueError(
            f"spec.service.port must be between 1 and 65535 for provider {PROVIDER}, "
            f"got {settings.port}"
        )
    if settings.matches:
        raise ValueError(
            f"spec.analysis.match cannot be routed by provider {PROVIDER} (a TraefikService "
            "balances by weight only); use gatewayapi:v1 for A/B testing"
        )
    if settings.affinity is not None:
        raise ValueError(
            f"spec.analysis.sessionAffinity cannot be routed by provider {PROVIDER}; "
            "use gatewayapi:v1 for sticky canary sessions"
        )


def _service(route: RouteRef, name: str, port: int, weight: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "namespace": route.namespace, "port": port}
    if weight is not None:
        entry["weight"] = weight
    return entry


def traefik_service(
    route: RouteRef,
    settings: RouteSettings,
    *,
    primary_weight: int,
    canary_weight: int,
    mirror: bool = False,
) -> dict[str, Any]:
    """The full TraefikService manifest for `route` at `primary_weight`/`canary_weight` percent;
    with `mirror` (blue/green, the canary at 0), the primary's requests copied to the canary."""
    _check_weights(primary_weight, canary_weight)
    check_settings(settings)
    port = settings.port
    metadata = route_metadata(route)
    if settings.labels:
        metadata["labels"] = dict(settings.labels)
    metadata["annotations"] = {**settings.annotations, **metadata["annotations"]}
    spec: dict[str, Any]
    if mirror:
        if canary_weight != 0:
            raise ValueError(
                f"provider {PROVIDER} mirrors requests only while the canary gets none "
                f"(blue/green); asked to mirror at canary weight {canary_weight}"
            )
        percent = 100 if settings.mirror_percent is None else settings.mirror_percent
        spec = {
            "mirroring": {
                **_service(route, route.primary_service, port),
                "mirrors": [
                    {**_service(route, route.canary_service, port), "percent": percent},
                ],
            }
        }
    else:
        # Flagger's order: primary first; the canary only while it gets requests.
        services = [_service(route, route.primary_service, port, primary_weight)]
        if canary_weight > 0:
            services.append(_service(route, route.canary_service, port, canary_weight))
        spec = {"weighted": {"services": services}}
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def _weight(entry: Mapping[str, Any], where: str) -> Decimal:
    value = entry.get("weight", 1)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RouteError(f"{where}: service {entry.get('name')}: weight {value!r} is not >= 0")
    return Decimal(value)


def service_weights(obj: Mapping[str, Any], route: RouteRef) -> tuple[int, int]:
    """(primary, canary) in whole percent of their sum; (100, 0) for the mirroring form (the
    primary serves every request). RouteError when the object routes to neither Service."""
    where = f"TraefikService {route.namespace}/{route.apex}"
    spec = obj.get("spec") or {}
    mirroring = spec.get("mirroring")
    if isinstance(mirroring, Mapping) and spec.get("weighted") is None:
        if mirroring.get("name") != route.primary_service:
            raise RouteError(f"{where} mirrors {mirroring.get('name')!r}, not the primary")
        return (100, 0)
    weighted = spec.get("weighted") or {}
    totals = {route.primary_service: Decimal(0), route.canary_service: Decimal(0)}
    seen = False
    for entry in weighted.get("services") or []:
        name = entry.get("name")
        if name not in totals or entry.get("kind", "Service") != "Service":
            continue
        if entry.get("namespace", route.namespace) != route.namespace:
            continue
        totals[name] += _weight(entry, where)
        seen = True
    primary, canary = totals[route.primary_service], totals[route.canary_service]
    if not seen or primary + canary == 0:
        raise RouteError(
            f"{where} does not route to {route.primary_service} or {route.canary_service} "
            f"by weight (weights {primary} and {canary})"
        )
    return as_percentages(primary, canary)


class TraefikRouter:
    """The `Router` writing one weighted (or, for blue/green mirroring, mirroring)
    TraefikService per Canary."""

    def __init__(
        self, api: ApiClient, settings: RouteSettings, *, read: resources.Reader | None = None
    ) -> None:
        check_settings(settings)
        self._api = api
        self.settings = settings
        self._resource = ROUTE
        self._reader = read or resources.api_reader(api)

    async def _read(self, route: RouteRef) -> dict[str, Any] | None:
        return await self._reader(self._resource, route.namespace, route.apex)

    async def reconcile(self, route: RouteRef) -> None:
        """Create the TraefikService at 100/0 if absent; otherwise re-apply it with its current
        weights (one that no longer routes to the two Services is repaired to 100/0, the
        primary's side). A mirroring one is kept mirroring."""
        existing = await self._read(route)
        weights, mirror = (100, 0), False
        if existing is not None:
            try:
                weights = service_weights(existing, route)
                mirror = (existing.get("spec") or {}).get("mirroring") is not None
            except RouteError:
                weights = (100, 0)
        await self.set_weights(route, primary=weights[0], canary=weights[1], mirror=mirror)

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        manifest = traefik_service(
            route, self.settings, primary_weight=primary, canary_weight=canary, mirror=mirror
        )
        await resources.apply(self._api, manifest)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._read(route)
        return None if existing is None else service_weights(existing, route)


def release_patch(obj: Mapping[str, Any], route: RouteRef) -> dict[str, Any] | None:
    """The merge patch that sends all of the TraefikService's traffic to the apex Service (on
    the port its primary entry used) and drops the Canary's owner reference; None when it is
    not this Canary's to release (another Canary controls it) or already released."""
    owner_uid = route.owner.uid if route.owner is not None else ""
    metadata = obj.get("metadata") or {}
    references = metadata.get("ownerReferences") or []
    if any(
        r.get("controller") is True and r.get("kind") == "Canary" and r.get("uid") != owner_uid
        for r in references
    ):
        return None
    kept = [dict(r) for r in references if r.get("uid") != owner_uid]
    spec = obj.get("spec") or {}
    entries = [*((spec.get("weighted") or {}).get("services") or [])]
    if isinstance(spec.get("mirroring"), Mapping):
        entries.insert(0, spec["mirroring"])
    ours = {route.primary_service, route.canary_service}
    port = next((e.get("port") for e in entries if e.get("name") in ours), None)
    if port is None and len(kept) == len(references):
        return None  # routes to neither of the Canary's Services, and is not owned by it
    apex: dict[str, Any] = {"name": route.apex, "namespace": route.namespace, "weight": 100}
    if port is not None:
        apex["port"] = port
    patch: dict[str, Any] = {"metadata": {"resourceVersion": metadata.get("resourceVersion")}}
    if len(kept) != len(references):
        patch["metadata"]["ownerReferences"] = kept or None
    if port is not None:
        patch["spec"] = {"weighted": {"services": [apex]}, "mirroring": None}
    return patch


async def release(api: ApiClient, route: RouteRef) -> str:
    """Hand the traffic back before the Canary is deleted (revertOnDeletion): the TraefikService
    is kept, sending everything to the apex Service; what was done ("" when nothing)."""
    existing = await resources.get(api, ROUTE, route.apex, namespace=route.namespace)
    patch = None if existing is None else release_patch(existing, route)
    if patch is None:
        return ""
    await resources.merge_patch(api, ROUTE, route.apex, namespace=route.namespace, patch=patch)
    name = f"{KIND} {route.namespace}/{route.apex}"
    return f"{name} sends all traffic to Service {route.apex} and is kept"


def build(api: ApiClient, read: Reader | None, settings: RouteSettings) -> Router:
    """The registry's builder: a `TraefikRouter` for `settings` (ValueError naming a field it
    cannot route)."""
    return TraefikRouter(api, settings, read=read)


# What the registry lists for provider `traefik`.
ROUTER: Final = RouterKind(build=build, route=ROUTE, can_mirror=True, release=release)
