"""The mesh simulator: the metrics of every provider's proxies, for workloads that have no pods.

    python -m canary.sandbox.meshsim --kubeconfig K --port P [--rate 20]

A test instrument of the sandbox (docs/sandbox.md). It watches the route objects of every
provider it imitates (`exporters/registry.py`: TrafficSplits, HTTPRoutes, ...), the Services,
Deployments and DaemonSets of all namespaces and, after changes, at most once a second, works out
which workload gets how many requests (meshsim_model.plan); every 250 ms it counts the requests
due since the last tick. It serves the counts on http://127.0.0.1:P/metrics (written by
`meshsim_exposition`), for the sandbox's Prometheus to scrape, once per provider's exporter:
under the Linkerd proxy's names and labels, as the application's own
`http_request_duration_seconds` histogram (what podinfo exports, labelled as Flagger's
`kubernetes-pods` scrape job labels it), and so on. It answers /healthz.

It watches (canary.kube.watch: resumes, relists on 410) instead of relisting: with a thousand
Canaries' 5000 objects, a relisting every few seconds was a second of the API server's CPU each
time, on the machine whose API server the scale benchmark measures. A kind whose CRD is not
installed counts as empty, and is looked for again every second.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from canary.kube import resources
from canary.kube.client import ApiClient, api_client
from canary.kube.errors import KubeError
from canary.kube.resources import DAEMON_SET, DEPLOYMENT, SERVICE, ResourceKind
from canary.kube.watch import WatchEvent, watch
from canary.sandbox.exporters.base import Traffic
from canary.sandbox.exporters.registry import PROVIDERS
from canary.sandbox.meshsim_exposition import Exposition
from canary.sandbox.meshsim_model import Simulator, Target, feeds, plan
from canary.sandbox.meshsim_objects import DEFAULT_RATE, Key, Service, Split, Workload

log = logging.getLogger("canary.sandbox.meshsim")

PLAN_INTERVAL = 1.0  # seconds between two plans, at least
RECHECK_INTERVAL = 1.0  # seconds between two looks for a CRD that is not installed (yet)
TICK_INTERVAL = 0.25


def traffic(simulator: Simulator) -> Traffic:
    """What the exporters read of the simulator now."""
    return Traffic(series=simulator.series(), routes=simulator.routes, pod_name=simulator.pod_name)


class Follower:
    """Watches the cluster's routing objects and hands the plan they make to the simulator."""

    def __init__(self, client: ApiClient, simulator: Simulator, *, default_rate: float) -> None:
        self._client = client
        self._simulator = simulator
        self._default_rate = default_rate
        self._said: set[str] = set()  # problems already logged, so each is logged once
        self._sources = [source for provider in PROVIDERS for source in provider.routes]
        self.kinds = list(
            dict.fromkeys([*(s.kind for s in self._sources), DEPLOYMENT, DAEMON_SET, SERVICE])
        )
        # kind -> (namespace, name) -> entry (`_entry`); a kind is here once it was listed (or
        # is absent)
        self._stores: dict[ResourceKind, dict[tuple[str, str], Any]] = {}
        self._changed = asyncio.Event()

    async def forever(self, interval: float) -> None:
        """Follow every kind, and make a new plan after changes, at most once per `interval`."""
        async with asyncio.TaskGroup() as group:
            for kind in self.kinds:
                group.create_task(self.follow(kind))
            while True:
                await self._changed.wait()
                self._changed.clear()
                if self.listed_all:
                    try:
                        self.replan()
                    # An object that is not what its kind should be: keep the last plan.
                    except (ValueError, KeyError, TypeError) as error:
                        log.warning("planning failed, keeping the last plan: %r", error)
                # Changes that come meanwhile make one plan: not a wait for anything.
                await asyncio.sleep(interval)

    @property
    def listed_all(self) -> bool:
        """Whether every kind was listed (or found absent) once: a plan before that would
        take traffic away from what is simply not listed yet."""
        return len(self._stores) == len(self.kinds)

    async def follow(self, kind: ResourceKind) -> None:
        """Keep `kind`'s store current. A kind the API server does not serve (its CRD is not
        installed, or not yet: the sandbox installs CRDs while this starts) counts as empty
        until it is served."""
        while not await self._served(kind):
            group = kind.api_version.split("/")[0]
            self._say(f"the {kind.plural}.{group} CRD is not installed (yet); none to follow")
            self.apply(kind, WatchEvent("SYNCED"))
            await asyncio.sleep(RECHECK_INTERVAL)
        async for event in watch(self._client, kind):
            self.apply(kind, event)

    async def _served(self, kind: ResourceKind) -> bool:
        while True:
            try:
                return await resources.list_objects(self._client, kind) is not None
            # ValueError: a response that is not the JSON list it should be.
            except (KubeError, aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
                log.warning("listing %s failed, trying again: %r", kind.plural, error)
                await asyncio.sleep(RECHECK_INTERVAL)

    def apply(self, kind: ResourceKind, event: WatchEvent) -> bool:
        """One watch event of `kind` into its store (a SYNCED event replaces the store); whether
        the store changed in what a plan reads. A Deployment's new pod template or status
        changes nothing a plan reads unless it moves traffic (labels, ready replicas, the
        behaviour annotations): a release's first events, and kube-controller-manager's status
        updates, then make no new plan, which at a thousand Canaries costs 0.1 s each."""
        if event.kind == "SYNCED":
            self._stores[kind] = {_key(o): _entry(kind, o) for o in event.items}
        elif event.kind == "DELETED":
            self._stores.setdefault(kind, {}).pop(_key(event.object), None)
        else:
            store, key = self._stores.setdefault(kind, {}), _key(event.object)
            entry = _entry(kind, event.object)
            if key in store and store[key] == entry:
                return False
            store[key] = entry
        self._changed.set()
        return True

    def replan(self) -> None:
        """The plan of the objects in the stores, handed to the simulator."""

        def listed(kind: ResourceKind) -> list[Any]:
            entries = list(self._stores.get(kind, {}).values())
            for entry in entries:
                if isinstance(entry, _Unreadable):
                    raise entry.error
            return entries

        workloads: list[Workload] = [*listed(DEPLOYMENT), *listed(DAEMON_SET)]
        routes: list[Split] = []
        for source in self._sources:
            routes += source.splits(listed(source.kind))
        for problem in [p for w in workloads for p in w.problems]:
            self._say(problem)
        for problem in [p for r in routes for p in r.problems]:
            self._say(problem)
        known_services: list[Service] = listed(SERVICE)
        new_plan = plan(routes, known_services, workloads, default_rate=self._default_rate)
        if changes := describe_changes(self._simulator.current_plan, new_plan):
            log.info("plan: %s", changes)
        self._simulator.set_plan(
            new_plan,
            existing=[w.key for w in workloads],
            daemon_sets=[w.key for w in workloads if w.daemon_set],
            routes=feeds(routes, known_services, workloads, default_rate=self._default_rate),
        )

    def _say(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            log.warning("%s", message)


def _key(manifest: Mapping[str, Any]) -> tuple[str, str]:
    metadata = manifest.get("metadata") or {}
    return str(metadata.get("namespace") or ""), str(metadata.get("name") or "")


@dataclass(frozen=True)
class _Unreadable:
    """A stored object its kind's parser refused: the next plan raises `error` (and so keeps
    the last plan) until the object changes or goes."""

    error: ValueError | KeyError | TypeError


# What the stores keep of these kinds: the parsed object, read once per change rather than for
# every plan (at a thousand Canaries, parsing 5000 objects was half of each plan's time).
_PARSERS: dict[ResourceKind, Callable[[dict[str, Any]], Workload | Service]] = {
    DEPLOYMENT: Workload.from_manifest,
    DAEMON_SET: functools.partial(Workload.from_manifest, daemon_set=True),
    SERVICE: Service.from_manifest,
}


def _entry(kind: ResourceKind, manifest: dict[str, Any]) -> Any:
    """What a store keeps of `manifest`: parsed, for the kinds in `_PARSERS`; without its
    managedFields otherwise (route objects, read by their exporters' own `splits`)."""
    parse = _PARSERS.get(kind)
    if parse is None:
        return _trimmed(manifest)
    try:
        return parse(manifest)
    except (ValueError, KeyError, TypeError) as error:
        return _Unreadable(error)


def _trimmed(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` without its managedFields, which nothing here reads: a third of a
    Deployment's size, and this keeps thousands."""
    metadata = manifest.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        manifest = {
            **manifest,
            "metadata": {k: v for k, v in metadata.items() if k != "managedFields"},
        }
    return manifest


def describe_changes(old: Mapping[Key, Target], new: Mapping[Key, Target]) -> str:
    """What differs between two plans, for the log ("" when nothing does)."""
    parts = []
    for key in sorted(old.keys() | new.keys()):
        if (target := new.get(key)) == old.get(key):
            continue
        what = (
            "no traffic"
            if target is None
            else f"{target.rate:g} rps (errors {target.behaviour.error_rate:g}, "
            f"latency {target.behaviour.latency_ms:g} ms)"
        )
        parts.append(f"{key[0]}/{key[1]} {what}")
    return "; ".join(parts)


async def tick(simulator: Simulator, interval: float) -> None:
    """Advance the simulator by the real time elapsed, every `interval` seconds."""
    last = time.monotonic()
    while True:
        await asyncio.sleep(interval)
        now = time.monotonic()
        simulator.advance(now - last)
        last = now


def web_app(simulator: Simulator) -> web.Application:
    exposition = Exposition(PROVIDERS)

    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=exposition.render(traffic(simulator)).encode())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def current_plan(_request: web.Request) -> web.Response:
        """The rates in force, for people debugging a test."""
        return web.json_response(
            [
                {"namespace": ns, "deployment": name, "rate": t.rate, **vars(t.behaviour)}
                for (ns, name), t in simulator.current_plan.items()
            ]
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/plan", current_plan)
    return app


async def serve(arguments: argparse.Namespace) -> None:
    simulator = Simulator(seed=arguments.seed)
    runner = web.AppRunner(web_app(simulator), access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(runner, arguments.host, arguments.port).start()
        log.info("serving /metrics on http://%s:%d", arguments.host, arguments.port)
        async with api_client(arguments.kubeconfig) as client, asyncio.TaskGroup() as group:
            follower = Follower(client, simulator, default_rate=arguments.rate)
            tasks = [
                group.create_task(follower.forever(arguments.plan_interval)),
                group.create_task(tick(simulator, TICK_INTERVAL)),
            ]
            await stop.wait()
            for task in tasks:
                task.cancel()
        log.info("stopped")
    finally:
        await runner.cleanup()


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m canary.sandbox.meshsim",
        description="Simulated Linkerd proxy metrics for the sandbox's workloads.",
    )
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help="requests per second of each TrafficSplit and HTTPRoute (default %(default)g)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the latency draws")
    parser.add_argument(
        "--plan-interval",
        type=float,
        default=PLAN_INTERVAL,
        help="seconds between two plans of the traffic, at least (default %(default)g)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    asyncio.run(serve(arguments))


if __name__ == "__main__":
    main()
