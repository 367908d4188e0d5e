"""The Gateway API router: one HTTPRoute (gateway.networking.k8s.io v1 or v1beta1) per Canary.

The HTTPRoute is named after the apex Service and has one rule: every path (`PathPrefix /`) goes to
`<apex>-primary` and `<apex>-canary` by weight. For A/B testing the weighted rule applies to the
requests that match (headers, query parameters; prefixes and suffixes become regular expressions)
and a second rule sends all others to the primary. Mirroring adds a RequestMirror filter that
copies the weighted rule's requests to the canary. It attaches either to Gateways (north-south) or,
when no Gateway is given, to the apex Service itself (east-west "mesh" routing, GAMMA). Weights are
written as percentages and read back relative to their sum; a backendRef without a weight counts 1,
as the Gateway API specifies. Request timeouts exist on v1 only (as in Flagger, whose v1beta1
router has none). Unlike Flagger's v1 router, reading the weights does not wait for the parents to
accept the route: the sandbox has no Gateway controller to accept it.

This module builds the object and applies it; it must not decide weights, nor touch Services.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from canary.api.analysis import MatchRequest, StringMatch
from canary.api.canary import Headers
from canary.api.durations import parse_duration
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.routers.base import RouteError, RouteRef, as_percentages, kept_weights, route_metadata
from canary.routers.sticky import Affinity, Cookies, cookies_for, sticky_rules

GROUP: Final = "gateway.networking.k8s.io"
KIND: Final = "HTTPRoute"


class GatewayVersion(StrEnum):
    V1 = "v1"
    V1BETA1 = "v1beta1"

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{self.value}"


@dataclass(frozen=True)
class GatewaySettings:
    """What an HTTPRoute needs beyond the `RouteRef`: the Services' port, where it attaches.

    `parent_refs` are Gateway API ParentReferences (e.g. `{"name": "public", "namespace":
    "gateways"}`); when empty, the route attaches to the apex Service (mesh routing).
    `timeout` is a Gateway API duration (`"30s"`, `"1m30s"`), applied on v1 only.
    """

    port: int
    parent_refs: tuple[Mapping[str, Any], ...] = ()
    hostnames: tuple[str, ...] = ()
    timeout: str | None = None
    matches: tuple[MatchRequest, ...] = ()  # A/B: the requests the weighted rule applies to
    mirror_percent: int | None = None  # the share of requests mirrored (all when None)
    headers: Headers | None = None  # header changes applied by every rule
    affinity: Affinity | None = None  # sticky canary sessions (analysis.sessionAffinity)
    # `service.apex`'s labels and annotations, which Flagger puts on the HTTPRoute too.
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def gateway_duration(duration: str) -> str:
    """A Canary duration (`1m30s`, `500ms`, `2h`) in the Gateway API's form: whole units of
    h, m, s or ms, at most one of each (e.g. `90s`, `1500ms`)."""
    seconds = parse_duration(duration)
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"


def gateway_parent_ref(
    name: str, *, namespace: str | None = None, section_name: str | None = None
) -> dict[str, Any]:
    """A ParentReference to a Gateway (in the route's namespace unless `namespace` is given)."""
    ref: dict[str, Any] = {"group": GROUP, "kind": "Gateway", "name": name}
    if namespace is not None:
        ref["namespace"] = namespace
    if section_name is not None:
        ref["sectionName"] = section_name
    return ref


def mesh_parent_ref(route: RouteRef, port: int) -> dict[str, Any]:
    """The ParentReference of mesh routing: the apex Service itself, on the route's port."""
    return {"group": "", "kind": "Service", "name": route.apex, "port": port}


def _check_weights(primary: int, canary: int) -> None:
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary} canary={canary}"
        )


def _backend_ref(service: str, port: int, weight: int) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": service, "port": port, "weight": weight}


def http_route(  # noqa: PLR0913 - keyword-only: the weights and the mirror
    version: GatewayVersion,
    route: RouteRef,
    settings: GatewaySettings,
    *,
    primary_weight: int,
    canary_weight: int,
    mirror: bool = False,
    cookies: Cookies | None = None,
) -> dict[str, Any]:
    """The full HTTPRoute manifest for `route` at `primary_weight`/`canary_weight` percent.

    Without `settings.matches` one rule sends every request by weight. With them (A/B) the
    first rule sends the matching requests by weight and a second sends the rest to the
    primary. With `mirror` the weighted rule also copies its requests to the canary. With
    `settings.affinity`, the sticky-session rules of `cookies` come first (sticky.py).
    """
    _check_weights(primary_weight, canary_weight)
    port = settings.port
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    metadata = route_metadata(route)
    if settings.labels:
        metadata["labels"] = dict(settings.labels)
    metadata["annotations"] = {**settings.annotations, **metadata["annotations"]}
    everything = [{"path": {"type": "PathPrefix", "value": "/"}}]
    weighted = _rule(
        version,
        settings,
        matches=[_match(m) for m in settings.matches] or everything,
        # Flagger's order: primary first, then canary.
        backends=[
            _backend_ref(route.primary_service, port, primary_weight),
            _backend_ref(route.canary_service, port, canary_weight),
        ],
    )
    if mirror:
        weighted.setdefault("filters", []).append(_mirror_filter(route, settings))
    rules = [weighted]
    if settings.affinity is not None and cookies is not None:
        names = (route.primary_service, route.canary_service)
        rules = [*sticky_rules(weighted, settings.affinity, cookies, names=names), weighted]
        metadata.setdefault("annotations", {}).update(cookies.annotations())
    if settings.matches:
        rest = [_backend_ref(route.primary_service, port, 100)]
        rules.append(_rule(version, settings, matches=everything, backends=rest))
    spec: dict[str, Any] = {
        "parentRefs": [dict(ref) for ref in settings.parent_refs] or [mesh_parent_ref(route, port)],
        "rules": rules,
    }
    if settings.hostnames:
        spec["hostnames"] = list(settings.hostnames)
    return {"apiVersion": version.api_version, "kind": KIND, "metadata": metadata, "spec": spec}


def _rule(
    version: GatewayVersion,
    settings: GatewaySettings,
    *,
    matches: list[dict[str, Any]],
    backends: list[dict[str, Any]],
) -> dict[str, Any]:
    rule: dict[str, Any] = {"matches": matches, "backendRefs": backends}
    filters = _header_filters(settings.headers)
    if filters:
        rule["filters"] = filters
    if settings.timeout is not None and version is GatewayVersion.V1:
        rule["timeouts"] = {"request": settings.timeout}
    return rule


def _string_match(name: str, match: StringMatch) -> dict[str, Any]:
    """A header or query condition: exact stays exact, the rest become regular expressions."""
    if match.exact is not None:
        return {"type": "Exact", "name": name, "value": match.exact}
    if match.prefix is not None:
        value = f"^{re.escape(match.prefix)}.*"
    elif match.suffix is not None:
        value = f".*{re.escape(match.suffix)}$"
    else:
        value = match.regex or ""
    return {"type": "RegularExpression", "name": name, "value": value}


def _match(request: MatchRequest) -> dict[str, Any]:
    """One HTTPRouteMatch: every path, and all of the request's conditions."""
    match: dict[str, Any] = {"path": {"type": "PathPrefix", "value": "/"}}
    if request.headers:
        match["headers"] = [_string_match(k, v) for k, v in sorted(request.headers.items())]
    if request.query_params:
        match["queryParams"] = [
            _string_match(k, v) for k, v in sorted(request.query_params.items())
        ]
    return match


def _mirror_filter(route: RouteRef, settings: GatewaySettings) -> dict[str, Any]:
    mirror: dict[str, Any] = {
        "backendRef": {"group": "", "kind": "Service", "name": route.canary_service},
    }
    mirror["backendRef"]["port"] = settings.port
    if settings.mirror_percent is not None:
        mirror["percent"] = settings.mirror_percent
    return {"type": "RequestMirror", "requestMirror": mirror}


def _header_filters(headers: Headers | None) -> list[dict[str, Any]]:
    """Gateway API header modifier filters for the Canary's `service.headers`."""
    if headers is None:
        return []
    filters = []
    for kind, operations in (
        ("RequestHeaderModifier", headers.request),
        ("ResponseHeaderModifier", headers.response),
    ):
        if operations is None:
            continue
        modifier: dict[str, Any] = {}
        if operations.set:
            modifier["set"] = [{"name": k, "value": v} for k, v in sorted(operations.set.items())]
        if operations.add:
            modifier["add"] = [{"name": k, "value": v} for k, v in sorted(operations.add.items())]
        if operations.remove:
            modifier["remove"] = list(operations.remove)
        if modifier:
            key = kind[0].lower() + kind[1:]
            filters.append({"type": kind, key: modifier})
    return filters


def _weight(ref: Mapping[str, Any], where: str) -> Decimal:
    value = ref.get("weight", 1)  # the Gateway API default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RouteError(f"{where}: backendRef {ref.get('name')} has weight {value!r}")
    return Decimal(value)


def _is_service(ref: Mapping[str, Any]) -> bool:
    return bool(ref.get("group", "") == "" and ref.get("kind", "Service") == "Service")


def route_weights(http_route_object: Mapping[str, Any], route: RouteRef) -> tuple[int, int]:
    """(primary, canary) in whole percent of their sum, from the last rule with two backendRefs:
    the primary and the canary Services (sticky-session rules come before it). RouteError when
    no rule routes to both."""
    where = f"HTTPRoute {route.namespace}/{route.apex}"
    wanted = {route.primary_service, route.canary_service}
    for rule in reversed((http_route_object.get("spec") or {}).get("rules") or []):
        refs = rule.get("backendRefs") or []
        if len(refs) != 2 or not all(_is_service(r) for r in refs):
            continue
        weights = {r.get("name"): _weight(r, where) for r in refs}
        if set(weights) != wanted:
            continue
        primary, canary = weights[route.primary_service], weights[route.canary_service]
        if primary + canary == 0:
            raise RouteError(
                f"{where} routes to neither {route.primary_service} nor {route.canary_service} "
                "(both weights are 0)"
            )
        return as_percentages(primary, canary)
    raise RouteError(
        f"{where} has no rule with exactly two backendRefs, "
        f"{route.primary_service} and {route.canary_service}"
    )


class GatewayApiRouter:
    """The `Router` for one HTTPRoute version, attached as `settings` say."""

    def __init__(
        self,
        api: ApiClient,
        version: GatewayVersion,
        settings: GatewaySettings,
        *,
        read: resources.Reader | None = None,
    ) -> None:
        self._api = api
        self.version = version
        self.settings = settings
        self._resource = resources.resource_kind(version.api_version, KIND)
        self._reader = read or resources.api_reader(api)

    async def _read(self, route: RouteRef) -> dict[str, Any] | None:
        return await self._reader(self._resource, route.namespace, route.apex)

    async def reconcile(self, route: RouteRef) -> None:
        """Create the route at 100/0 if absent; otherwise re-apply it with its current weights.

        A route that no longer splits between the two Services is repaired to 100/0 (all traffic
        to the primary, the safe side).
        """
        existing = await self._read(route)
        weights = kept_weights(existing, lambda found: route_weights(found, route))
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        cookies = None
        if self.settings.affinity is not None:
            existing = await self._read(route)
            cookies = cookies_for(existing, self.settings.affinity, canary_weight=canary)
        manifest = http_route(
            self.version,
            route,
            self.settings,
            primary_weight=primary,
            canary_weight=canary,
            mirror=mirror,
            cookies=cookies,
        )
        await resources.apply(self._api, manifest)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._read(route)
        return None if existing is None else route_weights(existing, route)
