"""The `kubernetes` router: blue/green with plain Services, no mesh.

There is no route object: the apex Service is the route. It selects the primary's pods (all
traffic on the primary) or the canary's (all traffic on the canary), so the only weights it can
express are 100/0 and 0/100, and it switches all at once. The selector it switches to is copied
from the `-primary` or `-canary` Service, which the controller keeps selecting the right pods;
reading the weights back compares the apex's selector with theirs.

Flagger's `kubernetes` provider never switches the apex: its primary simply rolls to the new
template at promotion, so clients meet the new version pod by pod while the primary rolls. Here
the apex points at the analysed canary while the primary rolls, then back at the promoted
primary: clients see one version switch, and never a half-rolled primary.

This module switches selectors; it must not create the Services (the controller applies them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import SERVICE
from canary.routers.base import RouteError, RouteRef

ALL = 100


def _selector(service: Mapping[str, Any]) -> dict[str, str]:
    selector = (service.get("spec") or {}).get("selector") or {}
    return {str(k): str(v) for k, v in selector.items()}


def apex_weights(
    apex: Mapping[str, Any],
    primary: Mapping[str, Any],
    canary: Mapping[str, Any],
    route: RouteRef,
) -> tuple[int, int]:
    """(100, 0) when the apex selects what the primary Service selects, (0, 100) when it
    selects the canary's pods; RouteError when it selects neither."""
    selected = _selector(apex)
    if selected and selected == _selector(primary):
        return (ALL, 0)
    if selected and selected == _selector(canary):
        return (0, ALL)
    raise RouteError(
        f"Service {route.namespace}/{route.apex} selects {selected or 'nothing'}, neither the "
        f"pods of {route.primary_service} nor those of {route.canary_service}"
    )


def selector_patch(current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, Any]:
    """A JSON merge patch that makes a Service's selector exactly `wanted`."""
    selector: dict[str, str | None] = {key: None for key in current if key not in wanted}
    selector.update(wanted)
    return {"spec": {"selector": selector}}


class ServiceRouter:
    """The `Router` of the `kubernetes` provider: switches the apex Service's selector."""

    def __init__(self, api: ApiClient, *, read: resources.Reader | None = None) -> None:
        self._api = api
        self._reader = read or resources.api_reader(api)

    async def _services(
        self, route: RouteRef
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
        found = [
            await self._reader(SERVICE, route.namespace, name)
            for name in (route.apex, route.primary_service, route.canary_service)
        ]
        apex, primary, canary = found
        if apex is None or primary is None or canary is None:
            return None
        return apex, primary, canary

    async def reconcile(self, route: RouteRef) -> None:
        """Nothing to create: the Services are the route, and the controller applies them."""

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        if mirror:
            raise ValueError("the kubernetes provider cannot mirror requests")
        if (primary, canary) not in {(ALL, 0), (0, ALL)}:
            raise ValueError(
                f"the kubernetes provider switches all traffic at once (100/0 or 0/100), "
                f"got primary={primary} canary={canary}"
            )
        services = await self._services(route)
        if services is None:
            raise RouteError(
                f"Services {route.apex}, {route.primary_service} and {route.canary_service} "
                f"must exist in {route.namespace} before traffic can switch"
            )
        apex, primary_service, canary_service = services
        wanted = _selector(primary_service if primary == ALL else canary_service)
        if _selector(apex) == wanted:
            return
        await resources.merge_patch(
            self._api,
            SERVICE,
            route.apex,
            namespace=route.namespace,
            patch=selector_patch(_selector(apex), wanted),
        )

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        services = await self._services(route)
        return None if services is None else apex_weights(*services, route)
