"""The controller process: watches that wake Canaries, the scheduler that runs their cycles, and
the health endpoints. With leader election, cycles run only while this replica holds the Lease
(`canary.controller.leader`). `run` returns the process's exit status: 0 once stopped by SIGTERM
(it raises on SIGINT's cancellation), 1 once it lost the Lease."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from canary import __version__
from canary.controller.configwatch import ConfigUsers
from canary.controller.deletion import is_deleting
from canary.controller.garbage import GarbageCollector
from canary.controller.leader import LeadershipLostError, election
from canary.controller.reconcile import Reconciler
from canary.controller.scheduler import Key, Scheduler
from canary.controller.settings import Settings
from canary.controller.signals import TerminatedError, until_terminated
from canary.kube import resources
from canary.kube.answers import API_SERVER, heartbeat
from canary.kube.client import ApiClient, api_client
from canary.kube.events import EVENT_TIMEOUT, flush_events, flush_periodically
from canary.kube.resources import (
    CANARY,
    CONFIG_MAP,
    DAEMON_SET,
    DEPLOYMENT,
    HTTP_ROUTE,
    METRIC_TEMPLATE,
    SECRET,
    SERVICE,
    TRAFFIC_SPLIT,
    ResourceKind,
)
from canary.kube.watch import WatchEvent, watch
from canary.targets.deployment import PRIMARY_SUFFIX
from canary.telemetry.health import Health
from canary.telemetry.loop import LoopMonitor
from canary.telemetry.releases import ReleaseCollector, set_info

log = structlog.get_logger(__name__)

# Kinds the cycle reads but that wake no Canary: the route objects of every router (so reading
# weights costs no request), the Services blue/green switches, and the MetricTemplates.
CACHED_ONLY = (
    METRIC_TEMPLATE,
    TRAFFIC_SPLIT,
    HTTP_ROUTE,
    SERVICE,
)


class Wiring:
    """Maps watch events to the Canaries they concern, and tracks what is ready to serve."""

    def __init__(self, scheduler: Scheduler, reconciler: Reconciler) -> None:
        self.scheduler = scheduler
        self.reconciler = reconciler
        # (namespace, deployment name) -> Canaries whose target or primary it is
        self.by_deployment: defaultdict[tuple[str, str], set[Key]] = defaultdict(set)
        # and back: a Canary -> the Deployments it is indexed under (every Canary event
        # re-indexes its Canary; this keeps that independent of how many Canaries there are)
        self.deployments_of: dict[Key, tuple[tuple[str, str], ...]] = {}
        self.synced: set[str] = set()
        self.config_users = ConfigUsers(reconciler.cache)

    def _index(self, key: Key, canary: dict[str, Any]) -> None:
        target = (canary.get("spec") or {}).get("targetRef", {}).get("name")
        wanted = (
            ((key[0], target), (key[0], target + PRIMARY_SUFFIX)) if isinstance(target, str) else ()
        )
        if self.deployments_of.get(key) == wanted:
            return  # the usual case: a status write, the target unchanged
        self._unindex(key)
        for deployment in wanted:
            self.by_deployment[deployment].add(key)
        self.deployments_of[key] = wanted

    def _unindex(self, key: Key) -> None:
        for deployment in self.deployments_of.pop(key, ()):
            keys = self.by_deployment.get(deployment)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self.by_deployment[deployment]

    def _wake_rivals(self, gone: Key) -> None:
        """A deleted Canary may have held a target another Canary was refused for: wake those
        that share its target or primary, so they take over as soon as its objects are gone."""
        for deployment in self.deployments_of.get(gone, ()):
            for key in self.by_deployment.get(deployment, set()) - {gone}:
                self.scheduler.wake(key)
        self._unindex(gone)

    def _cache(self, plural: str, event: WatchEvent, namespace: str | None) -> None:
        cache = self.reconciler.cache
        if event.kind == "SYNCED":
            cache.replace(plural, namespace, event.items)
        elif event.kind == "DELETED":
            cache.delete(plural, event.object)
        else:
            cache.put(plural, event.object)

    def canary_event(self, event: WatchEvent, namespace: str | None) -> None:
        self._cache("canaries", event, namespace)
        if event.kind == "SYNCED":
            keys = {_key(item) for item in event.items}
            for item in event.items:
                self._index(_key(item), item)
                self.reconciler.note_phase(_key(item), _phase(item))
            scope = {k for k in self.scheduler.keys if namespace is None or k[0] == namespace}
            for gone in scope - keys:
                self.scheduler.forget(gone)
                self.reconciler.note_phase(gone, None)
                self._unindex(gone)
            for key in keys:
                self.scheduler.wake(key)
            self.synced.add(f"canaries/{namespace}")
            return
        key = _key(event.object)
        if event.kind == "DELETED":
            self.scheduler.forget(key)
            self.reconciler.note_phase(key, None)
            self._wake_rivals(key)
            self.reconciler.orphans.canary_deleted(event.object)  # a cluster-scoped route
            return
        self._index(key, event.object)
        self.reconciler.note_phase(key, _phase(event.object))
        version = (event.object.get("metadata") or {}).get("resourceVersion")
        if (
            event.kind == "MODIFIED"
            and not is_deleting(event.object)  # a Canary being deleted runs until it is gone
            and self.reconciler.is_own_write(key, version)
        ):
            return
        self.scheduler.wake(key)

    def cache_event(self, plural: str) -> Any:
        """A handler that only keeps the cache (MetricTemplates, TrafficSplits)."""

        def handle(event: WatchEvent, namespace: str | None) -> None:
            self._cache(plural, event, namespace)

        return handle

    def config_event(self, plural: str) -> Any:
        """A handler for ConfigMaps or Secrets: keep the cache, wake the Canaries using them."""

        def handle(event: WatchEvent, namespace: str | None) -> None:
            self._cache(plural, event, namespace)
            if event.kind == "SYNCED":
                self.synced.add(f"{plural}/{namespace}")
            changed = event.items if event.kind == "SYNCED" else (event.object,)
            for key in self.config_users.canaries(plural, changed, self.by_deployment):
                self.scheduler.wake(key)

        return handle

    def workload_event(self, plural: str) -> Callable[[WatchEvent, str | None], None]:
        """The handler of Deployment or DaemonSet events: targets and primaries."""

        def handle(event: WatchEvent, namespace: str | None) -> None:
            self._cache(plural, event, namespace)
            if event.kind == "SYNCED":
                self.synced.add(f"{plural}/{namespace}")
            self._wake_users(event.items if event.kind == "SYNCED" else (event.object,))

        return handle

    def _wake_users(self, objects: Iterable[dict[str, Any]]) -> None:
        for obj in objects:
            metadata = obj.get("metadata") or {}
            for key in self.by_deployment.get(
                (metadata.get("namespace", ""), metadata.get("name", "")), ()
            ):
                self.scheduler.wake(key)


def _phase(obj: dict[str, Any]) -> str | None:
    phase = (obj.get("status") or {}).get("phase")
    return str(phase) if phase else None


def _key(obj: dict[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace")), str(metadata.get("name")))


async def _follow(
    api: ApiClient,
    resource: ResourceKind,
    namespace: str | None,
    handle: Any,
    *,
    label_selector: str = "",
) -> None:
    """Feed `handle` forever; a watcher that breaks on something unforeseen is restarted (with
    a relist), never allowed to take the controller down."""
    while True:
        try:
            async for event in watch(
                api, resource, namespace=namespace, label_selector=label_selector
            ):
                handle(event, namespace)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("watch_crashed", resource=resource.plural, namespace=namespace)
            await asyncio.sleep(1.0)


async def run(settings: Settings) -> int:
    status = 0
    async with (
        election(settings) as leader,
        api_client(settings.kubeconfig, may_write=leader.acting) as api,
    ):
        reconciler = Reconciler(api, settings, may_act=leader.acting)
        scheduler = Scheduler(
            leader.guard(reconciler.cycle),
            max_parallel=settings.max_parallel,
            failures=reconciler.failures,
        )
        wiring = Wiring(scheduler, reconciler)
        scopes: list[str | None] = list(settings.namespaces) or [None]
        watched = ("canaries", "deployments", "daemonsets", "configmaps", "secrets")
        expected = {f"{kind}/{scope}" for kind in watched for scope in scopes}
        log.info(
            "controller_started",
            namespaces=list(settings.namespaces) or "all",
            label_selector=settings.watch_label_selector or None,
            prometheus=settings.prometheus_url,
            provider=settings.provider,
        )
        monitor = LoopMonitor()
        health = Health({"event_loop": monitor.problem, "scheduler": scheduler.problem})
        releases = ReleaseCollector(
            reconciler.releases, phases=lambda: reconciler.phases, exporting=leader.acting
        )
        REGISTRY.register(releases)
        set_info(version=__version__, provider=settings.provider)
        runner = await _serve(
            settings.listen, ready=lambda: expected <= wiring.synced, problems=health.problems
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(monitor.run(), name="event loop monitor")
                group.create_task(
                    GarbageCollector(scheduler.quiet_for).run(), name="garbage collector"
                )
                group.create_task(leader.run(), name="leader election")
                group.create_task(until_terminated(), name="until SIGTERM")
                group.create_task(flush_periodically(api), name="event counts")
                group.create_task(
                    heartbeat(
                        lambda: resources.version(api),
                        wanted=lambda: bool(reconciler.under_way()),
                    ),
                    name="API server heartbeat",
                )
                for scope in scopes:
                    # A shard (--watch-label-selector) sees only its Canaries; the objects
                    # they use (Deployments, configs, routes) are watched whole.
                    group.create_task(
                        _follow(
                            api,
                            CANARY,
                            scope,
                            wiring.canary_event,
                            label_selector=settings.watch_label_selector,
                        )
                    )
                    for workload in (DEPLOYMENT, DAEMON_SET):
                        handle = wiring.workload_event(workload.plural)
                        group.create_task(_follow(api, workload, scope, handle))
                    for config in (CONFIG_MAP, SECRET):
                        handle = wiring.config_event(config.plural)
                        group.create_task(_follow(api, config, scope, handle))
                    for cached in CACHED_ONLY:
                        handle = wiring.cache_event(cached.plural)
                        group.create_task(_follow(api, cached, scope, handle))
        except* TerminatedError:
            log.info("controller_stopping", signal="SIGTERM")
        except* LeadershipLostError:
            status = 1  # exit, to be restarted clean (logged where the Lease was lost)
        finally:
            REGISTRY.unregister(releases)
            await scheduler.stop()
            with contextlib.suppress(TimeoutError):  # best effort, like every event
                async with asyncio.timeout(EVENT_TIMEOUT):
                    await flush_events(api, everything=True)
            await leader.step_down()  # only now that no cycle runs: another replica may act
            reconciler.prometheus.close()
            await reconciler.hooks.close()
            await reconciler.alerts.close()
            if runner is not None:
                await runner.cleanup()
    return status


async def _serve(
    listen: str, *, ready: Any, problems: Callable[[], list[str]]
) -> web.AppRunner | None:
    """/healthz (the process serves, and `problems()` finds none: the event loop turns and
    every scheduling task runs), /readyz (every watch has listed once), /metrics.

    An API server that does not answer is reported in /healthz's text but does not fail it:
    restarting the controller cannot cure the API server (`canary.telemetry.health`)."""
    if not listen:
        return None
    host, _, port = listen.rpartition(":")

    async def healthz(_request: web.Request) -> web.Response:
        found = problems()
        if found:
            log.warning("healthz_failing", problems=found)
            return web.Response(status=503, text="\n".join(found))
        degraded = API_SERVER.problem()
        return web.Response(text=f"ok\ndegraded: {degraded}" if degraded else "ok")

    async def readyz(_request: web.Request) -> web.Response:
        return web.Response(text="ok") if ready() else web.Response(status=503, text="syncing")

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host or "0.0.0.0", int(port)).start()  # noqa: S104 - configurable
    return runner
