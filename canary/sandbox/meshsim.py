"""The mesh simulator: Linkerd's inbound proxy metrics for workloads that have no real pods.

    python -m canary.sandbox.meshsim --kubeconfig K --port P [--rate 20]

A test instrument of the sandbox (docs/sandbox.md). Every second it lists the TrafficSplits
(split.smi-spec.io/v1alpha2), HTTPRoutes (gateway.networking.k8s.io/v1), Services, Deployments
and DaemonSets of all namespaces and works out which
workload gets how many requests (meshsim_model.plan); every 250 ms it counts the requests due
since the last tick. It serves the counts on http://127.0.0.1:P/metrics twice, for the sandbox's
Prometheus to scrape: under the Linkerd proxy's names and labels, and as the application's own
`http_request_duration_seconds` histogram (what podinfo exports), labelled as Flagger's
`kubernetes-pods` scrape job labels it (`kubernetes_namespace`, `kubernetes_pod_name`), since the
sandbox has no pods to discover. It answers /healthz.

Relisting instead of watching keeps it simple and self-healing (no resource versions, no 410s):
five list calls a second, cheap for a sandbox's few hundred objects.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from canary.kube import resources
from canary.kube.client import ApiClient, api_client
from canary.kube.errors import KubeError
from canary.kube.resources import (
    DAEMON_SET,
    DEPLOYMENT,
    HTTP_ROUTE,
    SERVICE,
    TRAFFIC_SPLIT,
    ResourceKind,
)
from canary.sandbox.meshsim_model import Simulator, Target, plan
from canary.sandbox.meshsim_objects import (
    DEFAULT_RATE,
    Key,
    Service,
    Split,
    Workload,
    splits_of_http_route,
)

log = logging.getLogger("canary.sandbox.meshsim")

# TrafficSplits are read as v1alpha2 (the storage version; v1alpha1 weights come back as quantity
# strings), HTTPRoutes as v1 (v1beta1 HTTPRoutes are the same objects, served as v1 too).
RELIST_INTERVAL = 1.0
TICK_INTERVAL = 0.25
LIST_TIMEOUT = 5.0


class MeshCollector(Collector):
    """The simulator's counts as the Linkerd proxy names them, and as the application's own
    histogram, read at scrape time."""

    def __init__(self, simulator: Simulator) -> None:
        self._simulator = simulator

    def collect(self) -> Iterator[Metric]:
        labels = ["namespace", "deployment", "direction"]
        requests = CounterMetricFamily("request", "Requests received.", labels=labels)
        responses = CounterMetricFamily(
            "response",
            "Responses sent, by classification and HTTP status.",
            labels=[*labels, "classification", "status_code"],
        )
        latency = HistogramMetricFamily(
            "response_latency_ms", "Time to the response's headers, in ms.", labels=labels
        )
        for (namespace, deployment), series in self._simulator.series().items():
            common = [namespace, deployment, "inbound"]
            requests.add_metric(common, series.count)
            if series.successes:
                responses.add_metric([*common, "success", "200"], series.successes)
            if series.failures:
                responses.add_metric([*common, "failure", "500"], series.failures)
            latency.add_metric(common, series.cumulative(), series.latency_sum_ms)
        yield requests
        yield responses
        yield latency
        yield self._application_histogram()

    def _application_histogram(self) -> Metric:
        """`http_request_duration_seconds` by status, as podinfo exports it, with the labels
        Prometheus's pod discovery would add (Flagger's builtins for `kubernetes` and
        `gatewayapi:*` select on them)."""
        histogram = HistogramMetricFamily(
            "http_request_duration_seconds",
            "Seconds spent serving HTTP requests.",
            labels=["kubernetes_namespace", "kubernetes_pod_name", "method", "path", "status"],
        )
        for (namespace, deployment), series in self._simulator.series().items():
            pod = [namespace, self._simulator.pod_name((namespace, deployment)), "GET", "/"]
            if series.successes:
                histogram.add_metric(
                    [*pod, "200"],
                    series.cumulative_seconds(failed=False),
                    (series.latency_sum_ms - series.failure_latency_sum_ms) / 1000,
                )
            if series.failures:
                histogram.add_metric(
                    [*pod, "500"],
                    series.cumulative_seconds(failed=True),
                    series.failure_latency_sum_ms / 1000,
                )
        return histogram


class Relister:
    """Lists the cluster's routing objects and hands the resulting plan to the simulator."""

    def __init__(self, client: ApiClient, simulator: Simulator, *, default_rate: float) -> None:
        self._client = client
        self._simulator = simulator
        self._default_rate = default_rate
        self._said: set[str] = set()  # problems already logged, so each is logged once

    async def once(self) -> None:
        def listed(kind: ResourceKind) -> asyncio.Task[list[dict[str, Any]] | None]:
            return group.create_task(resources.list_objects(self._client, kind))

        async with asyncio.timeout(LIST_TIMEOUT), asyncio.TaskGroup() as group:
            splits = listed(TRAFFIC_SPLIT)
            http_routes = listed(HTTP_ROUTE)
            deployments = listed(DEPLOYMENT)
            daemon_sets = listed(DAEMON_SET)
            services = listed(SERVICE)
        if splits.result() is None:
            self._say("the TrafficSplit CRD is not installed; no TrafficSplits to follow")
        workloads = [Workload.from_manifest(d) for d in deployments.result() or []]
        workloads += [
            Workload.from_manifest(d, daemon_set=True) for d in daemon_sets.result() or []
        ]
        if http_routes.result() is None:
            self._say("the HTTPRoute CRD is not installed; no HTTPRoutes to follow")
        routes = [Split.from_manifest(s) for s in splits.result() or []]
        routes += [r for h in http_routes.result() or [] for r in splits_of_http_route(h)]
        for problem in [p for w in workloads for p in w.problems]:
            self._say(problem)
        for problem in [p for r in routes for p in r.problems]:
            self._say(problem)
        new_plan = plan(
            routes,
            [Service.from_manifest(s) for s in services.result() or []],
            workloads,
            default_rate=self._default_rate,
        )
        if changes := describe_changes(self._simulator.current_plan, new_plan):
            log.info("plan: %s", changes)
        self._simulator.set_plan(
            new_plan,
            existing=[w.key for w in workloads],
            daemon_sets=[w.key for w in workloads if w.daemon_set],
        )

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
            await asyncio.sleep(interval)

    def _say(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            log.warning("%s", message)


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
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MeshCollector(simulator))

    async def metrics(_request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(registry))
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
