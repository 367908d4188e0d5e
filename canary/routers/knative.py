"""The Knative router: a Knative Service's own `spec.traffic`, split between two of its Revisions.

As Flagger writes it (`serving.knative.dev/v1`), the traffic block of the target Knative
Service is exactly two entries:

    traffic:
    - latestRevision: true        # the canary: the latest Revision Knative created
      percent: <canary weight>
    - revisionName: <primary>     # the Revision recorded in flagger.app/primary-revision
      percent: <primary weight>

The Service is the user's: this router never creates nor deletes it, and never gives it an owner
reference; it merge-patches `spec.traffic` only (a list replaces the whole block: a traffic block
the user wrote, with tags or other Revisions, is replaced from initialization on, as Flagger
replaces it). Weights are read back, as Flagger reads them, from `status.traffic`: the traffic
Knative has programmed, each entry naming its Revision (`latestRevision: true` resolved to the
latest ready one, the pinned entry `latestRevision: false`). `spec.traffic` stands in while the
status cannot say (see `observed_weights`). A `spec.traffic` block of another shape reads as no
route yet, so initialization writes it. Knative splits by percent only: A/B matching,
mirroring and session affinity are not available (the controller refuses them from the
capabilities), and none of Flagger's provider fields applies.

On deletion with `revertOnDeletion`, the traffic is handed back: all to the latest Revision when
it is the primary (Knative's default block), else all pinned to the primary Revision (the latest
one was never promoted), and the primary annotation is removed.

This module builds the traffic block and applies it; it must not decide weights. Its
`build`, `release` and `KNATIVE_SERVICE` make its line of `canary.routers.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import KNATIVE_PRIMARY_REVISION as PRIMARY_REVISION_ANNOTATION
from canary.kube.resources import KNATIVE_SERVICE
from canary.routers.base import RouteError, Router, RouteRef
from canary.routers.kind import RouterKind
from canary.routers.settings import RouteSettings

PROVIDER: Final = "knative"


def traffic(*, primary_revision: str, primary: int, canary: int) -> list[dict[str, Any]]:
    """The traffic block: `canary`% to the latest Revision, `primary`% to `primary_revision`."""
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary} canary={canary}"
        )
    return [
        {"latestRevision": True, "percent": canary},
        {"revisionName": primary_revision, "percent": primary},
    ]


def _split(entries: Any, *, where: str) -> tuple[tuple[int, int], Mapping[str, Any]] | None:
    """((primary, canary), the pinned entry) of a traffic block of this router's shape: two
    entries, the latest Revision's (`latestRevision: true`) and one pinned Revision's (named,
    not the latest); None for another shape. RouteError when the percents do not sum to 100."""
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        return None
    latest = [e for e in entries if e.get("latestRevision") is True]
    pinned = [e for e in entries if e.get("revisionName") and e.get("latestRevision") is not True]
    if len(entries) != 2 or len(latest) != 1 or len(pinned) != 1:
        return None
    canary, primary = latest[0].get("percent"), pinned[0].get("percent")
    if not isinstance(canary, int) or not isinstance(primary, int) or canary + primary != 100:
        raise RouteError(f"{where} percents {canary} and {primary} do not sum to 100")
    return (primary, canary), pinned[0]


def _name(service: Mapping[str, Any]) -> str:
    return f"Knative Service {(service.get('metadata') or {}).get('name')}"


def weights_of(service: Mapping[str, Any]) -> tuple[int, int] | None:
    """(primary, canary) from the Service's `spec.traffic`, None when it is not the block this
    router writes (two entries: the latest Revision's and one pinned Revision's)."""
    entries = (service.get("spec") or {}).get("traffic") or []
    found = _split(entries, where=f"{_name(service)}: spec.traffic")
    return None if found is None else found[0]


def observed_weights(service: Mapping[str, Any]) -> tuple[int, int] | None:
    """(primary, canary) as Knative routes them: `status.traffic`, as Flagger reads them.

    `spec.traffic` stands in when the status cannot say yet: a Service Knative has not
    reconciled since its last change (`status.observedGeneration` behind `metadata.generation`:
    its traffic is the block before the controller's last patch, and reading it would make the
    controller "repair" weights it has just set), or a status without a traffic block of this
    router's shape pinning the primary Revision (Knative has not programmed the route yet, or
    still routes as before the primary changed).
    """
    metadata, status = service.get("metadata") or {}, service.get("status") or {}
    primary = (metadata.get("annotations") or {}).get(PRIMARY_REVISION_ANNOTATION)
    current = status.get("observedGeneration") == metadata.get("generation", 0)
    if current:
        found = _split(status.get("traffic"), where=f"{_name(service)}: status.traffic")
        if found is not None and found[1].get("revisionName") == primary:
            return found[0]
    return weights_of(service)


def released_traffic(service: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The block handed back when the Canary goes: the latest Revision when it is the primary,
    else the primary Revision pinned (it is the last promoted one)."""
    primary = ((service.get("metadata") or {}).get("annotations") or {}).get(
        PRIMARY_REVISION_ANNOTATION
    )
    latest = (service.get("status") or {}).get("latestCreatedRevisionName")
    if not primary or primary == latest:
        return [{"latestRevision": True, "percent": 100}]
    return [{"revisionName": primary, "percent": 100}]


class KnativeRouter:
    """Sets the target Knative Service's traffic block (named after the apex: the target)."""

    def __init__(self, api: ApiClient, *, read: resources.Reader | None = None) -> None:
        self._api = api
        self._reader = read or resources.api_reader(api)

    async def _service(self, route: RouteRef) -> dict[str, Any]:
        service = await self._reader(KNATIVE_SERVICE, route.namespace, route.apex)
        if service is None:
            raise RouteError(f"Knative Service {route.namespace}/{route.apex} not found")
        return service

    async def reconcile(self, route: RouteRef) -> None:
        service = await self._service(route)
        if weights_of(service) is None:
            await self.set_weights(route, primary=100, canary=0)

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        if mirror:
            raise ValueError("provider knative cannot mirror requests (analysis.mirror)")
        service = await self._service(route)
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        primary_revision = annotations.get(PRIMARY_REVISION_ANNOTATION)
        if not primary_revision:
            raise RouteError(
                f"Knative Service {route.namespace}/{route.apex} has no "
                f"{PRIMARY_REVISION_ANNOTATION} annotation: it is not initialized"
            )
        block = traffic(primary_revision=primary_revision, primary=primary, canary=canary)
        if (service.get("spec") or {}).get("traffic") == block:
            return
        await resources.merge_patch(
            self._api,
            KNATIVE_SERVICE,
            route.apex,
            namespace=route.namespace,
            patch={"spec": {"traffic": block}},
        )

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        service = await self._reader(KNATIVE_SERVICE, route.namespace, route.apex)
        if service is None:
            return None
        annotations = (service.get("metadata") or {}).get("annotations") or {}
        if not annotations.get(PRIMARY_REVISION_ANNOTATION):
            return None
        return observed_weights(service)


def build(api: ApiClient, read: resources.Reader | None, settings: RouteSettings) -> Router:  # noqa: ARG001 - Knative honours none of the settings
    return KnativeRouter(api, read=read)


async def release(api: ApiClient, route: RouteRef) -> str:
    """Hand the Service's traffic back before the Canary is deleted (revertOnDeletion)."""
    service = await resources.get(api, KNATIVE_SERVICE, route.apex, namespace=route.namespace)
    if service is None:
        return ""
    block = released_traffic(service)
    await resources.merge_patch(
        api,
        KNATIVE_SERVICE,
        route.apex,
        namespace=route.namespace,
        patch={
            "metadata": {"annotations": {PRIMARY_REVISION_ANNOTATION: None}},
            "spec": {"traffic": block},
        },
    )
    where = f"Knative Service {route.namespace}/{route.apex}"
    if "latestRevision" in block[0]:
        return f"{where} sends all traffic to its latest revision"
    return (
        f"{where} sends all traffic to revision {block[0]['revisionName']}, the last promoted "
        "(its latest revision was never promoted: edit spec.traffic to release it)"
    )


# What the registry lists for provider `knative`.
ROUTER: Final = RouterKind(build=build, route=KNATIVE_SERVICE, release=release)
