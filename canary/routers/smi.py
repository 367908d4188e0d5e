"""The SMI router: one TrafficSplit (split.smi-spec.io v1alpha1..v1alpha4) per Canary.

The TrafficSplit is named after the apex Service and sends its traffic to `<apex>-canary` and
`<apex>-primary` by weight. v1alpha1 declares weights as Kubernetes quantities (we write "90",
and read anything, e.g. "900m"); later versions as integers. Weights are read back relative to
their sum, so a split written by another tool in other units still reads as percentages.

This module builds the object and applies it; it must not decide weights, nor touch Services.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.routers.base import GITOPS_OPT_OUT, RouteError, RouteRef, as_percentages
from canary.routers.quantity import parse_quantity

GROUP: Final = "split.smi-spec.io"
KIND: Final = "TrafficSplit"


class SmiVersion(StrEnum):
    V1ALPHA1 = "v1alpha1"
    V1ALPHA2 = "v1alpha2"
    V1ALPHA3 = "v1alpha3"
    V1ALPHA4 = "v1alpha4"

    @property
    def api_version(self) -> str:
        return f"{GROUP}/{self.value}"


def _check_weights(primary: int, canary: int) -> None:
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary} canary={canary}"
        )


def traffic_split(
    version: SmiVersion, route: RouteRef, *, primary_weight: int, canary_weight: int
) -> dict[str, Any]:
    """The full TrafficSplit manifest for `route` at `primary_weight`/`canary_weight` percent."""
    _check_weights(primary_weight, canary_weight)

    def weight(value: int) -> int | str:
        return str(value) if version is SmiVersion.V1ALPHA1 else value

    metadata: dict[str, Any] = {
        "name": route.apex,
        "namespace": route.namespace,
        "annotations": dict(GITOPS_OPT_OUT),
    }
    if route.owner is not None:
        metadata["ownerReferences"] = [route.owner.owner_reference()]
    return {
        "apiVersion": version.api_version,
        "kind": KIND,
        "metadata": metadata,
        "spec": {
            "service": route.apex,
            # Flagger's order: canary first, then primary.
            "backends": [
                {"service": route.canary_service, "weight": weight(canary_weight)},
                {"service": route.primary_service, "weight": weight(primary_weight)},
            ],
        },
    }


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
    """The `Router` for one SMI TrafficSplit version."""

    def __init__(
        self, api: ApiClient, version: SmiVersion, *, read: resources.Reader | None = None
    ) -> None:
        self._api = api
        self.version = version
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
        weights = (100, 0)
        if existing is not None:
            try:
                weights = split_weights(existing, route)
            except RouteError:
                weights = (100, 0)
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    async def set_weights(self, route: RouteRef, *, primary: int, canary: int) -> None:
        manifest = traffic_split(self.version, route, primary_weight=primary, canary_weight=canary)
        await resources.apply(self._api, manifest)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._read(route)
        return None if existing is None else split_weights(existing, route)
