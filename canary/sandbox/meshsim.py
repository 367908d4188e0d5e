"""The mesh simulator: the metrics of every provider's proxies, for workloads that have no pods.

    python -m canary.sandbox.meshsim --kubeconfig K --port P [--rate 20]

A test instrument of the sandbox (docs/sandbox.md). Every second it lists the route objects of
every provider it imitates (`exporters/registry.py`: TrafficSplits, HTTPRoutes, ...), the
Services, Deployments and DaemonSets of all namespaces and works out which workload gets how
many requests (meshsim_model.plan); every 250 ms it counts the requests due since the last
tick. It serves the counts on http://127.0.0.1:P/metrics (written by `meshsim_exposition`), for
the sandbox's Prometheus to scrape, once per provider's exporter: under the Linkerd proxy's names
and labels, as the application's own `http_request_duration_seconds` histogram (what podinfo
exports, labelled as Flagger's `kubernetes-pods` scrape job labels it), and so on. It answers
/healthz.

Relisting instead of watching keeps it simple and self-healing (no resource versions, no 410s):
a few list calls a second, cheap for a sandbox's few hundred objects. With thousands (the scale
benchmark's) the lists would load the API server more than anything measured, so the pause
between two lists grows with what they returned: one second per `OBJECTS_PER_SECOND` objects,
never less than the relist interval. Routes then change in the metrics that much later.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from canary.kube import resources
from canary.kube.client import ApiClient, api_client
from canary.kube.errors import KubeError
from canary.kube.resources import DAEMON_SET, DEPLOYMENT, SERVICE, ResourceKind
from canary.sandbox.exporters.base import Traffic
from canary.sandbox.exporters.registry import PROVIDERS
from canary.sandbox.meshsim_exposition import Exposition
from canary.sandbox.meshsim_model import Simulator, Target, feeds, plan
from canary.sandbox.meshsim_objects import DEFAULT_RATE, Key, Service, Split, Workload

log = logging.getLogger("canary.sandbox.meshsim")

RELIST_INTERVAL = 1.0
OBJECTS_PER_SECOND = 500  # listed objects per second of pause between two lists, at most
TICK_INTERVAL = 0.25
LIST_TIMEOUT = 5.0


def traffic(simulator: Simulator) -> Traffic:
    """What the exporters read of the simulator now."""
    return Traffic(series=simulator.series(), routes=simulator.routes, pod_name=simulator.pod_name)


class Relister:
    """Lists the cluster's routing objects and hands the resulting plan to the simulator."""

    def __init__(self, client: ApiClient, simulator: Simulator, *, default_rate: float) -> None:
        self._client = client
        self._simulator = simulator
        self._default_rate = default_rate
        self._said: set[str] = set()  # problems already logged, so each is logged once
        self.listed = 0  # objects in the last complete listing

    async def once(self) -> int:
        """List everything and set the plan; how many objects were listed."""

        def listed(kind: ResourceKind) -> asyncio.Task[list[dict[str, Any]] | None]:
            return group.create_task(resources.list_objects(self._client, kind))

        sources = [source for provider in PROVIDERS for source in provider.routes]
        within = LIST_TIMEOUT + self.listed / OBJECTS_PER_SECOND  # bigger lists take longer
        async with asyncio.timeout(within), asyncio.TaskGroup() as group:
            route_lists = [listed(source.kind) for source in sources]
            deployments = listed(DEPLOYMENT)
            daemon_sets = listed(DAEMON_SET)
            services = listed(SERVICE)
        workloads = [Workload.from_manifest(d) for d in deployments.result() or []]
        workloads += [
            Workload.from_manifest(d, daemon_set=True) for d in daemon_sets.result() or []
        ]
        routes: list[Split] = []
        for source, found in zip(sources, route_lists, strict=True):
            if found.result() is None:
                self._say(f"the {source.kind.kind} CRD is not installed; none to follow")
            routes += source.splits(found.result() or [])
        for problem in [p for w in workloads for p in w.problems]:
            self._say(problem)
        for problem in [p for r in routes for p in r.problems]:
            self._say(problem)
        known_services = [Service.from_manifest(s) for s in services.result() or []]
        new_plan = plan(routes, known_services, workloads, default_rate=self._default_rate)
        if changes := describe_changes(self._simulator.current_plan, new_plan):
            log.info("plan: %s", changes)
        self._simulator.set_plan(
            new_plan,
            existing=[w.key for w in workloads],
            daemon_sets=[w.key for w in workloads if w.daemon_set],
            routes=feeds(routes, known_services, workloads, default_rate=self._default_rate),
        )
        every_route = sum(len(found.result() or []) for found in route_lists)
        self.listed = len(workloads) + len(known_services) + every_route
        return self.listed

    async def forever(self, interval: float) -> None:
        failing = False
        while True:
            try:
                await self.once()
            # ValueError and KeyError: a response that is not the JSON list it should be.
            except* (
                KubeError,
                aiohttp.ClientError,
                TimeoutError,
                OSError,
                ValueError,
                KeyError,
            ) as group:
                # Keep the last plan: proxies go on serving while the API server is away.
                if not failing:
                    log.warning("listing failed, keeping the last plan: %r", group.exceptions[0])
                failing = True
            else:
                if failing:
                    log.info("listing works again")
                failing = False
            # The relist period itself (not a wait for anything), longer for bigger lists.
            await asyncio.sleep(relist_pause(interval, self.listed))

    def _say(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            log.warning("%s", message)


def relist_pause(interval: float, listed: int) -> float:
    """Seconds between two listings that returned `listed` objects: `interval` for a few
    hundred, one second per `OBJECTS_PER_SECOND` beyond."""
    return max(interval, listed / OBJECTS_PER_SECOND)


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
            relister = Relister(client, simulator, default_rate=arguments.rate)
            tasks = [
                group.create_task(relister.forever(arguments.relist_interval)),
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
    parser.add_argument("--relist-interval", type=float, default=RELIST_INTERVAL)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    asyncio.run(serve(arguments))


if __name__ == "__main__":
    main()
