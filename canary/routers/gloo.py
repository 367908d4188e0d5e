"""The Gloo Edge router: two Upstreams (gloo.solo.io/v1) and one RouteTable (gateway.solo.io/v1)
per Canary, as Flagger writes them.

The Upstreams `<namespace>-<apex>-primaryupstream-<port>` and `-canaryupstream-<port>` point at
the `<apex>-primary` and `<apex>-canary` Services (`kube`: Service name, namespace, port and
selector); with `spec.upstreamRef` they also take that Upstream's connection settings
(`sslConfig`, `circuitBreakers`, `connectionConfig`, `loadBalancerConfig`, `useHttp2`,
`initialStreamWindowSize`, `initialConnectionWindowSize`, `httpProxyHostname`), as Flagger
copies them. The RouteTable is named after the apex Service; its route inherits the path
matchers of the VirtualService that delegates to it and sends requests to the two Upstreams by
weight. Before a Canary with `revertOnDeletion` goes, `release` points the RouteTable at the
apex Service (a `kube` destination) and drops the owner reference, so the VirtualService that
delegates to it keeps working (garbage collection takes the Upstreams).

For A/B testing each match is one route (header and query-parameter matchers that must all
hold), sent by weight, and a last route sends every other request to the primary. Flagger
writes a single route whose matchers join every match's headers, and no route for the other
requests; exact and regex matches are Flagger's, prefixes and suffixes become regular
expressions here (Flagger matches them as an empty, present-only value).

Gloo has no request mirroring nor sticky sessions in Flagger: the controller refuses
`analysis.mirror` and `analysis.sessionAffinity` with this provider.

This module builds the objects and applies them; it must not decide weights.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from canary.api.analysis import MatchRequest, StringMatch
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.routers.base import (
    RouteError,
    Router,
    RouteRef,
    as_percentages,
    kept_weights,
    route_metadata,
)
from canary.routers.kind import RouterKind
from canary.routers.settings import ObjectRef, RouteSettings

PROVIDER: Final = "gloo"
ROUTE_TABLE: Final = resources.ROUTE_TABLE
UPSTREAM: Final = resources.UPSTREAM
APPLIES: Final = frozenset({"spec.upstreamRef"})
# What an Upstream named by spec.upstreamRef lends the generated ones (Flagger's list).
COPIED: Final = (
    "sslConfig",
    "circuitBreakers",
    "connectionConfig",
    "loadBalancerConfig",
    "useHttp2",
    "initialStreamWindowSize",
    "initialConnectionWindowSize",
    "httpProxyHostname",
)


@dataclass(frozen=True)
class GlooSettings:
    port: int
    matches: tuple[MatchRequest, ...] = ()
    upstream_ref: ObjectRef | None = None
    upstream_ref_namespace: str | None = None


def upstream_name(route: RouteRef, port: int, *, canary: bool) -> str:
    role = "canary" if canary else "primary"
    return f"{route.namespace}-{route.apex}-{role}upstream-{port}"


def gloo_settings(settings: RouteSettings) -> GlooSettings:
    """The Canary's settings for Gloo; ValueError naming a field that cannot apply."""
    ref = settings.object_ref("spec.upstreamRef")
    if ref is not None and ref.kind not in ("", "Upstream"):
        raise ValueError(
            f"spec.upstreamRef with provider {PROVIDER}: must name an Upstream, not {ref.kind}"
        )
    namespace = None
    raw = settings.field_value("spec.upstreamRef")
    if isinstance(raw, Mapping) and isinstance(raw.get("namespace"), str):
        namespace = raw["namespace"]
    return GlooSettings(
        port=settings.port,
        matches=settings.matches,
        upstream_ref=ref,
        upstream_ref_namespace=namespace,
    )


def upstream(
    route: RouteRef,
    port: int,
    *,
    canary: bool,
    selector: Mapping[str, str],
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Upstream of the primary's (or the canary's) Service."""
    service = route.canary_service if canary else route.primary_service
    spec: dict[str, Any] = {k: config[k] for k in COPIED if config and k in config}
    spec["kube"] = {
        "serviceName": service,
        "serviceNamespace": route.namespace,
        "servicePort": port,
        "selector": dict(selector),
    }
    metadata = route_metadata(route)
    metadata["name"] = upstream_name(route, port, canary=canary)
    return {
        "apiVersion": UPSTREAM.api_version,
        "kind": "Upstream",
        "metadata": metadata,
        "spec": spec,
    }


def _header(name: str, match: StringMatch) -> dict[str, Any]:
    if match.exact is not None:
        return {"name": name, "value": match.exact}
    if match.prefix is not None:
        return {"name": name, "value": f"{re.escape(match.prefix)}.*", "regex": True}
    if match.suffix is not None:
        return {"name": name, "value": f".*{re.escape(match.suffix)}", "regex": True}
    return {"name": name, "value": match.regex, "regex": True}


def _matcher(match: MatchRequest) -> dict[str, Any]:
    matcher: dict[str, Any] = {}
    if match.headers:
        matcher["headers"] = [_header(k, v) for k, v in sorted(match.headers.items())]
    if match.query_params:
        matcher["queryParameters"] = [_header(k, v) for k, v in sorted(match.query_params.items())]
    return matcher


def _route(
    route: RouteRef, port: int, primary: int, canary: int, match: MatchRequest | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"inheritablePathMatchers": True}
    if match is not None:
        entry["matchers"] = [_matcher(match)]
    entry["routeAction"] = {
        "multi": {
            "destinations": [
                {
                    "destination": {
                        "upstream": {
                            "name": upstream_name(route, port, canary=False),
                            "namespace": route.namespace,
                        }
                    },
                    "weight": primary,
                },
                {
                    "destination": {
                        "upstream": {
                            "name": upstream_name(route, port, canary=True),
                            "namespace": route.namespace,
                        }
                    },
                    "weight": canary,
                },
            ]
        }
    }
    return entry


def route_table(
    route: RouteRef, settings: GlooSettings, *, primary_weight: int, canary_weight: int
) -> dict[str, Any]:
    """The RouteTable for `route` at `primary_weight`/`canary_weight` percent."""
    if not (0 <= primary_weight <= 100 and primary_weight + canary_weight == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary_weight} "
            f"canary={canary_weight}"
        )
    port = settings.port
    if settings.matches:
        routes = [_route(route, port, primary_weight, canary_weight, m) for m in settings.matches]
        routes.append(_route(route, port, 100, 0, None))
    else:
        routes = [_route(route, port, primary_weight, canary_weight, None)]
    return {
        "apiVersion": ROUTE_TABLE.api_version,
        "kind": "RouteTable",
        "metadata": route_metadata(route),
        "spec": {"routes": routes},
    }


def table_weights(table: Mapping[str, Any], route: RouteRef, port: int) -> tuple[int, int]:
    """(primary, canary) from the first route to both Upstreams; RouteError when none is."""
    where = f"RouteTable {route.namespace}/{route.apex}"
    primary_name = upstream_name(route, port, canary=False)
    canary_name = upstream_name(route, port, canary=True)
    for entry in (table.get("spec") or {}).get("routes") or []:
        multi = ((entry.get("routeAction") or {}).get("multi") or {}).get("destinations") or []
        weights: dict[str, Decimal] = {}
        for destination in multi:
            name = ((destination.get("destination") or {}).get("upstream") or {}).get("name")
            value = destination.get("weight", 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RouteError(f"{where}: destination {name} has weight {value!r}")
            weights[str(name)] = Decimal(value)
        if set(weights) != {primary_name, canary_name}:
            continue
        if weights[primary_name] + weights[canary_name] == 0:
            raise RouteError(f"{where}: both upstreams have weight 0")
        return as_percentages(weights[primary_name], weights[canary_name])
    raise RouteError(f"{where} has no route to exactly {primary_name} and {canary_name}")


class GlooRouter:
    """The `Router` writing two Upstreams and one RouteTable per Canary."""

    def __init__(
        self, api: ApiClient, settings: GlooSettings, *, read: resources.Reader | None = None
    ) -> None:
        self._api = api
        self.settings = settings
        self._reader = read or resources.api_reader(api)

    async def _selector(self, route: RouteRef, service: str) -> Mapping[str, str]:
        found = await self._reader(resources.SERVICE, route.namespace, service)
        if found is None:  # just applied, not yet in the watch cache: ask the API server
            found = await resources.get(
                self._api, resources.SERVICE, service, namespace=route.namespace
            )
        if found is None:
            raise RouteError(f"Service {route.namespace}/{service} does not exist yet")
        return dict((found.get("spec") or {}).get("selector") or {})

    async def _config(self, route: RouteRef) -> Mapping[str, Any] | None:
        ref = self.settings.upstream_ref
        if ref is None:
            return None
        namespace = self.settings.upstream_ref_namespace or route.namespace
        found = await resources.get(self._api, UPSTREAM, ref.name, namespace=namespace)
        if found is None:
            raise ValueError(
                f"spec.upstreamRef: Upstream {namespace}/{ref.name} does not exist "
                f"(provider {PROVIDER} copies its settings)"
            )
        return dict(found.get("spec") or {})

    async def reconcile(self, route: RouteRef) -> None:
        """Apply both Upstreams; create the RouteTable at 100/0 or re-apply its weights."""
        config = await self._config(route)
        for canary in (False, True):
            service = route.canary_service if canary else route.primary_service
            manifest = upstream(
                route,
                self.settings.port,
                canary=canary,
                selector=await self._selector(route, service),
                config=config,
            )
            await resources.apply(self._api, manifest)
        existing = await self._reader(ROUTE_TABLE, route.namespace, route.apex)
        weights = kept_weights(
            existing, lambda found: table_weights(found, route, self.settings.port)
        )
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        if mirror:
            raise ValueError(f"provider {PROVIDER} does not mirror requests (analysis.mirror)")
        manifest = route_table(route, self.settings, primary_weight=primary, canary_weight=canary)
        await resources.apply(self._api, manifest)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._reader(ROUTE_TABLE, route.namespace, route.apex)
        if existing is None:
            return None
        return table_weights(existing, route, self.settings.port)


def release_patch(table: Mapping[str, Any], route: RouteRef) -> dict[str, Any] | None:
    """The merge patch that hands the RouteTable back (revertOnDeletion): every route to the
    Canary's Upstreams sends to the apex Service instead (a `kube` destination; the apex then
    selects the target's pods), and the Canary's owner reference goes, so the VirtualService
    that delegates to it keeps working. None when there is nothing to change."""
    owner_uid = route.owner.uid if route.owner is not None else ""
    references = (table.get("metadata") or {}).get("ownerReferences") or []
    kept = [dict(r) for r in references if r.get("uid") != owner_uid]
    ours = re.compile(
        rf"^{re.escape(route.namespace)}-{re.escape(route.apex)}-(primary|canary)upstream-(\d+)$"
    )
    routes, changed = [], False
    for entry in (table.get("spec") or {}).get("routes") or []:
        multi = ((entry.get("routeAction") or {}).get("multi") or {}).get("destinations") or []
        names = [
            ((d.get("destination") or {}).get("upstream") or {}).get("name", "") for d in multi
        ]
        found = [m for m in (ours.match(str(n)) for n in names) if m is not None]
        released = dict(entry)
        if found:
            apex: dict[str, Any] = {
                "ref": {"name": route.apex, "namespace": route.namespace},
                "port": int(found[0].group(2)),
            }
            released["routeAction"] = {"single": {"kube": apex}}
            changed = True
        routes.append(released)
    if not changed and len(kept) == len(references):
        return None
    return {"metadata": {"ownerReferences": kept}, "spec": {"routes": routes}}


async def release(api: ApiClient, route: RouteRef) -> str:
    """Hand the RouteTable back before the Canary is deleted; says what was done."""
    existing = await resources.get(api, ROUTE_TABLE, route.apex, namespace=route.namespace)
    owner_uid = route.owner.uid if route.owner is not None else ""
    references = ((existing or {}).get("metadata") or {}).get("ownerReferences") or []
    held = any(r.get("controller") and r.get("uid") != owner_uid for r in references)
    patch = None if existing is None or held else release_patch(existing, route)
    if patch is None:
        return ""
    await resources.merge_patch(
        api, ROUTE_TABLE, route.apex, namespace=route.namespace, patch=patch
    )
    return f"RouteTable {route.namespace}/{route.apex} sends all traffic to Service {route.apex}"


def build(api: ApiClient, read: resources.Reader | None, settings: RouteSettings) -> Router:
    """The registry's builder: ValueError naming a field that cannot apply."""
    return GlooRouter(api, gloo_settings(settings), read=read)


# What the registry lists for provider `gloo`.
ROUTER: Final = RouterKind(build, ROUTE_TABLE, APPLIES, can_match=True, release=release)
