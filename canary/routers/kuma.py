"""The Kuma router: one TrafficRoute (kuma.io/v1alpha1) per Canary, as Flagger writes it.

Kuma names each Kubernetes Service port of its mesh `<service>_<namespace>_svc_<port>` (the
`kuma.io/service` tag). The TrafficRoute, named after the apex Service, sends the apex's
requests from every source (`kuma.io/service: "*"`) to the primary and the canary by weight:

    mesh: default                   # the Canary's kuma.io/mesh annotation, else default
    spec:
      sources: [{match: {kuma.io/service: "*"}}]
      destinations: [{match: {kuma.io/service: podinfo_test_svc_9898}}]
      conf:
        split:
        - {weight: 90, destination: {kuma.io/service: podinfo-primary_test_svc_9898}}
        - {weight: 10, destination: {kuma.io/service: podinfo-canary_test_svc_9898}}

TrafficRoutes are cluster-scoped, so, unlike Flagger's, this one carries no owner reference (a
namespaced owner of a cluster-scoped object is invalid) but the annotation
`canary.dev/canary: <namespace>/<name>`: a TrafficRoute of that name written for another
Canary (or by hand) is never taken over here (`RouteError` naming it; the controller takes over
one whose Canary is gone, see `canary.controller.orphans`). No garbage collection deletes it
with the Canary: `release` does, when `revertOnDeletion` hands the traffic back (the mesh then
routes the apex Service to its own endpoints) or the controller sees the Canary deleted. Kuma
splits by weight only: A/B matching, mirroring and session affinity are refused from the
capabilities. This module builds the object and applies it; it must not decide weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import TRAFFIC_ROUTE
from canary.routers.base import (
    GITOPS_OPT_OUT,
    HOLDER_ANNOTATION,
    RouteError,
    Router,
    RouteRef,
    holder_of,
    kept_weights,
    route_holder,
)
from canary.routers.kind import RouterKind
from canary.routers.settings import RouteSettings

MESH_ANNOTATION: Final = "kuma.io/mesh"  # on the Canary, as Flagger reads it
SERVICE_TAG: Final = "kuma.io/service"


def service_tag(service: str, *, namespace: str, port: int) -> str:
    """Kuma's `kuma.io/service` tag of a Kubernetes Service port."""
    return f"{service}_{namespace}_svc_{port}"


def traffic_route(  # noqa: PLR0913 - keyword-only: what the object is made of
    route: RouteRef,
    *,
    port: int,
    mesh: str,
    primary: int,
    canary: int,
    annotations: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The TrafficRoute sending `primary`% and `canary`% of the apex's requests."""
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary} canary={canary}"
        )

    def tag(service: str) -> dict[str, str]:
        return {SERVICE_TAG: service_tag(service, namespace=route.namespace, port=port)}

    # Flagger marks the port as HTTP when the apex metadata brings no annotations of its own.
    own = dict(annotations) if annotations else {f"{port}.service.kuma.io": "http"}
    metadata: dict[str, Any] = {
        "name": route.apex,
        "annotations": {**own, **GITOPS_OPT_OUT, HOLDER_ANNOTATION: route_holder(route)},
    }
    if labels:
        metadata["labels"] = dict(labels)
    return {
        "apiVersion": TRAFFIC_ROUTE.api_version,
        "kind": TRAFFIC_ROUTE.kind,
        "metadata": metadata,
        "mesh": mesh,
        "spec": {
            "sources": [{"match": {SERVICE_TAG: "*"}}],
            "destinations": [{"match": tag(route.apex)}],
            "conf": {
                "split": [
                    {"weight": primary, "destination": tag(route.primary_service)},
                    {"weight": canary, "destination": tag(route.canary_service)},
                ]
            },
        },
    }


def weights_of(obj: Mapping[str, Any], route: RouteRef) -> tuple[int, int]:
    """(primary, canary) of a TrafficRoute, by the Services its split names."""
    split = ((obj.get("spec") or {}).get("conf") or {}).get("split") or []
    found: dict[str, int] = {}
    for entry in split:
        service = str((entry.get("destination") or {}).get(SERVICE_TAG, "")).split("_")[0]
        weight = entry.get("weight")
        if isinstance(weight, int):
            found[service] = weight
    primary, canary = found.get(route.primary_service), found.get(route.canary_service)
    if primary is None or canary is None or primary + canary != 100:
        raise RouteError(
            f"TrafficRoute {route.apex} does not split 100% between {route.primary_service} "
            f"and {route.canary_service}"
        )
    return primary, canary


class KumaRouter:
    def __init__(
        self,
        api: ApiClient,
        settings: RouteSettings,
        *,
        mesh: str,
        read: resources.Reader | None = None,
    ) -> None:
        self._api = api
        self._settings = settings
        self._mesh = mesh
        self._reader = read or resources.api_reader(api)

    async def _read(self, route: RouteRef) -> dict[str, Any] | None:
        found = await self._reader(TRAFFIC_ROUTE, route.namespace, route.apex)
        if found is not None and holder_of(found) != route_holder(route):
            holder = holder_of(found) or "nobody (written by hand)"
            raise RouteError(
                f"TrafficRoute {route.apex} (cluster-scoped) is held by {holder}, not by this "
                "Canary: set spec.service.name to route another apex name, or delete it"
            )
        return found

    def _manifest(self, route: RouteRef, *, primary: int, canary: int) -> dict[str, Any]:
        return traffic_route(
            route,
            port=self._settings.port,
            mesh=self._mesh,
            primary=primary,
            canary=canary,
            annotations=self._settings.annotations,
            labels=self._settings.labels,
        )

    async def reconcile(self, route: RouteRef) -> None:
        existing = await self._read(route)
        weights = kept_weights(existing, lambda found: weights_of(found, route))
        await resources.apply(
            self._api, self._manifest(route, primary=weights[0], canary=weights[1])
        )

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        if mirror:
            raise ValueError("provider kuma cannot mirror requests (analysis.mirror)")
        await self._read(route)  # never over another Canary's
        await resources.apply(self._api, self._manifest(route, primary=primary, canary=canary))

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._read(route)
        return None if existing is None else weights_of(existing, route)


def build(api: ApiClient, read: resources.Reader | None, settings: RouteSettings) -> Router:
    mesh = settings.canary_annotations.get(MESH_ANNOTATION) or "default"
    return KumaRouter(api, settings, mesh=mesh, read=read)


async def release(api: ApiClient, route: RouteRef) -> str:
    """Delete this Canary's TrafficRoute: the mesh then routes the apex to its own endpoints."""
    found = await resources.get(api, TRAFFIC_ROUTE, route.apex, namespace=None)
    if found is None or holder_of(found) != route_holder(route):
        return ""
    await resources.delete(api, TRAFFIC_ROUTE, route.apex, namespace=None)
    return f"TrafficRoute {route.apex} deleted"


# What the registry lists for provider `kuma`.
ROUTER: Final = RouterKind(build=build, route=TRAFFIC_ROUTE, release=release)
