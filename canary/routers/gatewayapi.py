"""The Gateway API router: one HTTPRoute (gateway.networking.k8s.io v1 or v1beta1) per Canary.

The HTTPRoute is named after the apex Service and has one rule: every path (`PathPrefix /`) goes
to `<apex>-primary` and `<apex>-canary` by weight. It attaches either to Gateways (north-south) or,
when no Gateway is given, to the apex Service itself (east-west "mesh" routing, GAMMA). Weights
are written as percentages and read back relative to their sum; a backendRef without a weight
counts 1, as the Gateway API specifies. Request timeouts exist on v1 only (as in Flagger, whose
v1beta1 router has none). Unlike Flagger's v1 router, reading the weights does not wait for the
parents to accept the route: the sandbox has no Gateway controller to accept it.

This module builds the object and applies it; it must not decide weights, nor touch Services.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.routers.base import GITOPS_OPT_OUT, RouteError, RouteRef, as_percentages

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


def http_route(  # noqa: PLR0913 - the route's whole shape, every argument keyword-only
    version: GatewayVersion,
    route: RouteRef,
    *,
    primary_weight: int,
    canary_weight: int,
    port: int,
    parent_refs: Sequence[Mapping[str, Any]],
    hostnames: Sequence[str],
    timeout: str | None = None,
) -> dict[str, Any]:
    """The full HTTPRoute manifest for `route` at `primary_weight`/`canary_weight` percent.

    Empty `parent_refs` attach the route to the apex Service (mesh routing); `timeout` is
    ignored on v1beta1.
    """
    _check_weights(primary_weight, canary_weight)
    if not 1 <= port <= 65535:
        raise ValueError(f"port must be between 1 and 65535, got {port}")
    metadata: dict[str, Any] = {
        "name": route.apex,
        "namespace": route.namespace,
        "annotations": dict(GITOPS_OPT_OUT),
    }
    if route.owner is not None:
        metadata["ownerReferences"] = [route.owner.owner_reference()]
    rule: dict[str, Any] = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        # Flagger's order: primary first, then canary.
        "backendRefs": [
            _backend_ref(route.primary_service, port, primary_weight),
            _backend_ref(route.canary_service, port, canary_weight),
        ],
    }
    if timeout is not None and version is GatewayVersion.V1:
        rule["timeouts"] = {"request": timeout}
    spec: dict[str, Any] = {
        "parentRefs": [dict(ref) for ref in parent_refs] or [mesh_parent_ref(route, port)],
        "rules": [rule],
    }
    if hostnames:
        spec["hostnames"] = list(hostnames)
    return {"apiVersion": version.api_version, "kind": KIND, "metadata": metadata, "spec": spec}


def _weight(ref: Mapping[str, Any], where: str) -> Decimal:
    value = ref.get("weight", 1)  # the Gateway API default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RouteError(f"{where}: backendRef {ref.get('name')} has weight {value!r}")
    return Decimal(value)


def _is_service(ref: Mapping[str, Any]) -> bool:
    return bool(ref.get("group", "") == "" and ref.get("kind", "Service") == "Service")


def route_weights(http_route_object: Mapping[str, Any], route: RouteRef) -> tuple[int, int]:
    """(primary, canary) in whole percent of their sum, from the rule with two backendRefs: the
    primary and the canary Services. RouteError when no rule routes to both."""
    where = f"HTTPRoute {route.namespace}/{route.apex}"
    wanted = {route.primary_service, route.canary_service}
    for rule in (http_route_object.get("spec") or {}).get("rules") or []:
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
        weights = (100, 0)
        if existing is not None:
            try:
                weights = route_weights(existing, route)
            except RouteError:
                weights = (100, 0)
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    async def set_weights(self, route: RouteRef, *, primary: int, canary: int) -> None:
        manifest = http_route(
            self.version,
            route,
            primary_weight=primary,
            canary_weight=canary,
            port=self.settings.port,
            parent_refs=self.settings.parent_refs,
            hostnames=self.settings.hostnames,
            timeout=self.settings.timeout,
        )
        await resources.apply(self._api, manifest)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._read(route)
        return None if existing is None else route_weights(existing, route)
