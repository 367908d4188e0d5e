"""A cluster-scoped route object left behind by a Canary that no longer exists: taken over.

Most objects a Canary writes are namespaced and carry its owner reference, so garbage collection
deletes them with it. A cluster-scoped route object (Kuma's TrafficRoute) cannot have one:
Kubernetes never garbage-collects a cluster-scoped dependent of a namespaced owner. It carries
`canary.dev/canary: <namespace>/<name>` (`HOLDER_ANNOTATION`) instead, and its router never
writes over a route another Canary holds. When that Canary is gone (deleted with its namespace,
or while no controller ran), its route would refuse every later Canary of the same apex name for
good. So when the router refuses a route held by another Canary, `OrphanedRoutes.take_over`
asks whether the holder still exists:

* the watch cache holds it: it exists, nothing is taken (no API read);
* else one GET of the holder decides, and only 404 counts as gone. The cache alone never proves
  absence: with `--namespaces` the holder's namespace may not be watched, with
  `--watch-label-selector` the holder may be another shard's, and a Canary created a moment ago
  may not have reached the cache yet. A GET that is refused (403) or fails takes nothing: the
  Canary stays refused (`RouteInvalid`) and asks again on its next cycle.

A gone holder's route is deleted on condition that it is still the version read (delete
preconditions: a Canary that wrote it meanwhile keeps it), with a `RouteAdopted` event and log;
the next cycle writes this Canary's own route, everything on the primary, as for a route that
never existed. A route nobody holds (written by hand) is never taken.

So that deleting a Canary deletes its route object with every provider, `canary_deleted` deletes
the cluster-scoped route of a Canary the watch saw deleted (if the route still names it: a
Canary with `revertOnDeletion` has released it already). A deletion no running leader saw (the
controller was down, or a relist after a watch gap) leaves the route to the takeover above.
This module writes only such routes and the event; it must not decide releases.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Final

import structlog

from canary.controller.cache import ObjectCache
from canary.controller.deletion import RevertSpec, revert_spec
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.errors import Conflict, KubeError
from canary.kube.events import record_event
from canary.kube.resources import CANARY, CanaryRef, ResourceKind
from canary.routers.base import RouteRef, holder_of, route_holder
from canary.routers.registry import router_kind
from canary.routers.release import release_route

log = structlog.get_logger(__name__)

ADOPTED: Final = "RouteAdopted"  # the event's reason
AGAIN: Final = 0.2  # seconds: the cycle after a takeover writes this Canary's own route


def cluster_scoped_route(provider: str) -> ResourceKind | None:
    """The kind of `provider`'s route object when it is cluster-scoped, so that no garbage
    collection deletes it with its Canary; None otherwise (or for an unknown provider)."""
    try:
        kind = router_kind(provider).route
    except ValueError:
        return None
    return kind if kind is not None and not kind.namespaced else None


def holder_key(holder: str) -> tuple[str, str] | None:
    """(namespace, name) of a `HOLDER_ANNOTATION` value; None when it names no Canary."""
    namespace, slash, name = holder.partition("/")
    return (namespace, name) if slash and namespace and name and "/" not in name else None


def adopted_message(kind: str, apex: str, holder: str) -> str:
    return (
        f"{kind} {apex} (cluster-scoped) was left behind by Canary {holder}, which no longer "
        "exists: deleted it, and this Canary writes its own (all traffic to its primary)"
    )


class OrphanedRoutes:
    """Takes over the cluster-scoped route objects of Canaries that are gone."""

    def __init__(
        self,
        api: ApiClient,
        *,
        cache: ObjectCache,
        default_provider: str,
        may_act: Callable[[], bool] = lambda: True,
    ) -> None:
        self.api = api
        self.cache = cache  # the controller's watch caches: they prove a Canary exists
        self.default_provider = default_provider
        self.may_act = may_act  # False while this replica does not hold the leader Lease
        self._releases: set[asyncio.Task[None]] = set()

    async def take_over(self, raw: Mapping[str, Any], *, route: RouteRef, provider: str) -> bool:
        """Whether `route`'s object was held by a Canary that is gone and has been deleted for
        this Canary (`raw`) to write its own: then its cycle runs again at once, instead of
        reporting the router's refusal."""
        kind = cluster_scoped_route(provider)
        if kind is None:
            return False  # namespaced: owner references and the claims rules settle it
        found = await resources.get(self.api, kind, route.apex, namespace=None)
        holder = holder_of(found)
        if found is None or holder is None or holder == route_holder(route):
            return False
        if not await self._gone(holder):
            return False
        metadata = found.get("metadata") or {}
        try:
            await resources.delete(
                self.api,
                kind,
                route.apex,
                namespace=None,
                uid=str(metadata.get("uid") or ""),
                resource_version=str(metadata.get("resourceVersion") or ""),
            )
        except Conflict:
            log.info("orphaned_route_changed", route=route.apex, holder=holder)
            return True  # written meanwhile: judged again on the next cycle
        message = adopted_message(kind.kind, route.apex, holder)
        log.warning("orphaned_route_adopted", route=route.apex, kind=kind.kind, holder=holder)
        await record_event(self.api, dict(raw), reason=ADOPTED, message=message)
        return True

    async def _gone(self, holder: str) -> bool:
        """Whether the Canary `holder` (`<namespace>/<name>`) does not exist: never from the
        cache's silence, only from the API server's 404 (see the module docstring)."""
        key = holder_key(holder)
        if key is None:
            return False  # not a Canary's name: someone else wrote it
        namespace, name = key
        if self.cache.get(CANARY.plural, namespace, name) is not None:
            return False
        try:
            found = await resources.get(self.api, CANARY, name, namespace=namespace)
        except KubeError as error:  # 403 among them: not allowed to look is not absence
            log.info("route_holder_unknown", holder=holder, error=str(error))
            return False
        return found is None

    def canary_deleted(self, raw: Mapping[str, Any]) -> None:
        """The watch saw the Canary `raw` deleted: delete its cluster-scoped route object, if
        it has one that still names it (in the background: the watch must not wait)."""
        spec = revert_spec(raw, default_provider=self.default_provider)
        if spec is None or cluster_scoped_route(spec.provider) is None or not self.may_act():
            return
        task = asyncio.get_running_loop().create_task(
            self._release(spec), name=f"release route {spec.namespace}/{spec.name}"
        )
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, spec: RevertSpec) -> None:
        owner = CanaryRef(name=spec.name, namespace=spec.namespace, uid=spec.uid)
        route = RouteRef(namespace=spec.namespace, apex=spec.apex, owner=owner)
        try:
            released = await release_route(self.api, route, provider=spec.provider)
        except KubeError as error:  # a lost Lease (the write refused) among them
            log.warning(
                "route_not_released", namespace=spec.namespace, canary=spec.name, error=str(error)
            )
            return
        if released:
            log.info("route_released", namespace=spec.namespace, canary=spec.name, done=released)
