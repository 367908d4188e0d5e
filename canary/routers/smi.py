"""The SMI router: one TrafficSplit (split.smi-spec.io v1alpha1..v1alpha4) per Canary.

The TrafficSplit is named after the apex Service and sends its traffic to `<apex>-canary` and
`<apex>-primary` by weight. v1alpha1 declares weights as Kubernetes quantities (we write "90",
and read anything, e.g. "900m"); later versions as integers. Weights are read back relative to
their sum, so a split written by another tool in other units still reads as percentages.

A/B testing (v1alpha3 and v1alpha4 only): the split then carries `matches` naming an
HTTPRouteGroup of the same name, which lists the requests that match (header regular
expressions); the mesh applies the split to those requests only, and the rest go to the apex
Service, which selects the primary. SMI cannot match query parameters, nor mirror requests; the
controller refuses Canaries that ask for either before a router is built.

This module builds the objects and applies them; it must not decide weights, nor touch Services.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from canary.api.analysis import MatchRequest, StringMatch
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.routers.base import RouteError, RouteRef, as_percentages, kept_weights, route_metadata
from canary.routers.quantity import parse_quantity

GROUP: Final = "split.smi-spec.io"
KIND: Final = "TrafficSplit"
ROUTE_GROUP: Final = "specs.smi-spec.io"
ROUTE_GROUP_KIND: Final = "HTTPRouteGroup"


class SmiVersion(StrEnum):
    V1ALPHA1 = "v1alpha1"
    V1ALPHA2 = "v1alpha2"
    V1ALPHA3 = "v1alpha3"
    V1ALPHA4 = "v1alpha4"

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{self.value}"

    @property
    def matches_requests(self) -> bool:
        """Whether this version's TrafficSplit can apply to matching requests only."""
        return self in {SmiVersion.V1ALPHA3, SmiVersion.V1ALPHA4}

    @property
    def route_group_api_version(self) -> str:
        """The HTTPRouteGroup version that goes with this TrafficSplit version."""
        return f"{ROUTE_GROUP}/{self.value}"


def _check_weights(primary: int, canary: int) -> None:
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary} canary={canary}"
        )


def header_regex(match: StringMatch) -> str:
    """A header condition as the regular expression SMI matches values with."""
    if match.exact is not None:
        return f"^{re.escape(match.exact)}$"
    if match.prefix is not None:
        return f"^{re.escape(match.prefix)}"
    if match.suffix is not None:
        return f"{re.escape(match.suffix)}$"
    return match.regex or ""


def check_matches(version: SmiVersion, matches: Sequence[MatchRequest]) -> None:
    """ValueError when `version` cannot route `matches` (what to use instead, in words)."""
    if not version.matches_requests:
        raise ValueError(
            f"SMI TrafficSplit {version.value} cannot match requests; A/B testing (analysis.match) "
            "needs provider smi:v1alpha3, smi:v1alpha4 or gatewayapi:v1"
        )
    if any(m.query_params for m in matches):
        raise ValueError(
            "SMI HTTPRouteGroups cannot match query parameters (analysis.match[].queryParams); "
            "match headers only, or use provider gatewayapi:v1"
        )


def route_group(
    version: SmiVersion, route: RouteRef, matches: Sequence[MatchRequest]
) -> dict[str, Any]:
    """The HTTPRouteGroup naming the requests of an A/B split: one match per MatchRequest."""
    check_matches(version, matches)
    metadata = route_metadata(route)
    return {
        "apiVersion": version.route_group_api_version,
        "kind": ROUTE_GROUP_KIND,
        "metadata": metadata,
        "spec": {
            "matches": [
                {
                    "name": f"match-{index}",
                    "headers": {name: header_regex(m) for name, m in sorted(match.headers.items())},
                }
                for index, match in enumerate(matches)
            ]
        },
    }


def traffic_split(
    version: SmiVersion,
    route: RouteRef,
    *,
    primary_weight: int,
    canary_weight: int,
    matched: bool = False,
) -> dict[str, Any]:
    """The full TrafficSplit manifest for `route` at `primary_weight`/`canary_weight` percent;
    `matched` applies it to the requests of the route's HTTPRouteGroup only (A/B)."""
    _check_weights(primary_weight, canary_weight)
    if matched and not version.matches_requests:
        raise ValueError(f"TrafficSplit {version.value} cannot match requests (v1alpha3+ can)")

    def weight(value: int) -> int | str:
        return str(value) if version is SmiVersion.V1ALPHA1 else value

    metadata = route_metadata(route)
    spec: dict[str, Any] = {
        "service": route.apex,
        # Flagger's order: canary first, then primary.
        "backends": [
            {"service": route.canary_service, "weight": weight(canary_weight)},
            {"service": route.primary_service, "weight": weight(primary_weight)},
        ],
    }
    if matched:
        spec["matches"] = [{"kind": ROUTE_GROUP_KIND, "name": route.apex, "apiGroup": ROUTE_GROUP}]
    return {"apiVersion": version.api_version, "kind": KIND, "metadata": metadata, "spec": spec}


def split_weights(split: Mapping[str, Any], route: RouteRef) -> tuple[int, int]:
    """(primary, canary) in whole percent of their sum; RouteError when the split is malformed."""
    name = f"TrafficSplit {route.namespace}/{route.apex}"
    totals = {route.primary_service: Decimal(0), route.canary_service: Decimal(0)}
    seen: set[str] = set()
    for backend in (split.get("spec") or {}).get("backends") or []:
        service = backend.get("service")
        if service not in totals:
            continue
        try:
            totals[service] += parse_quantity(backend.get("weight"))
        except ValueError as error:
            raise RouteError(f"{name}: backend {service}: {error}") from error
        seen.add(service)
    missing = sorted(set(totals) - seen)
    if missing:
        raise RouteError(f"{name} has no backend for {', '.join(missing)}")
    primary, canary = totals[route.primary_service], totals[route.canary_service]
    if primary < 0 or canary < 0 or primary + canary == 0:
        raise RouteError(
            f"{name} does not route to {route.primary_service} and {route.canary_service} "
            f"(weights {primary} and {canary})"
        )
    return as_percentages(primary, canary)


class SmiRouter:
    """The `Router` for one SMI TrafficSplit version; with `matches`, an A/B split."""

    def __init__(
        self,
        api: ApiClient,
        version: SmiVersion,
        *,
        read: resources.Reader | None = None,
        matches: Sequence[MatchRequest] = (),
    ) -> None:
        self._api = api
        self.version = version
        self.matches = tuple(matches)
        if self.matches:
            check_matches(version, self.matches)
        self._resource = resources.resource_kind(version.api_version, KIND)
        self._reader = read or resources.api_reader(api)

    async def _read(self, route: RouteRef) -> dict[str, Any] | None:
        return await self._reader(self._resource, route.namespace, route.apex)

    async def reconcile(self, route: RouteRef) -> None:
        """Create the split at 100/0 if absent; otherwise re-apply it with its current weights.

        A split that no longer routes to both Services is repaired to 100/0 (all traffic to the
        primary, the safe side), as Flagger does when the spec drifts.
        """
        existing = await self._read(route)
        weights = kept_weights(existing, lambda found: split_weights(found, route))
        if self.matches:
            await resources.apply(self._api, route_group(self.version, route, self.matches))
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        if mirror:
            raise ValueError("SMI TrafficSplits cannot mirror requests")
        manifest = traffic_split(
            self.version,
            route,
            primary_weight=primary,
            canary_weight=canary,
            matched=bool(self.matches),
        )
        await resources.apply(self._api, manifest)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._read(route)
        return None if existing is None else split_weights(existing, route)
