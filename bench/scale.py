"""Scale: N Canaries on one controller, created at once, then idle, then R of them releasing.

    canary sandbox up --dir /tmp/sb-bench --scrape-interval 15s
    .venv/bin/python bench/scale.py --dir /tmp/sb-bench --canaries 1000 --releasing 100

1. **Creation burst.** N Deployments (examples/podinfo's, 1 replica, kwok runs the pods, on
   extra kwok nodes for N + R pods: the sandbox's three hold 750) and
   their Canaries are applied as fast as 16 concurrent requests allow, with the controller
   already running. Recorded: seconds until every Canary is Initialized, and until every one
   has a status at all; the controller's API request rate and the number of Canaries without a
   status every 5 s (the `timeline`, where a stall shows); reconcile cycles over 10 s.
2. **Idle.** Once all are Initialized and a settle time passed: API requests per minute (the
   reopening of a watch, every 4 to 8 minutes per watched kind whatever N, counted apart), CPU
   (cores, from /proc) and RSS of the controller over `--idle` seconds.
3. **Release.** R targets change at once; their Canaries (interval 10 s, stepWeight 2 up to
   maxWeight 50: 25 steps, then promotion; no metric checks: the controller's own costs are
   measured, not Prometheus') release together. Recorded: detection (change sent → Progressing
   seen) p50/p99, step lateness (seen time between two analysis steps minus the interval)
   p50/p99, API requests and writes per step over the steady part (from the moment every
   Canary has taken 12 steps, past the 10 distinct `Advance` messages that client-go's
   aggregation writes one by one, to the moment every one has taken its last) and over the
   whole release, and CPU and peak RSS meanwhile. The R changes go out as R separate
   clients (CI pipelines) would send them, over HTTP/1.1 connections of their own, opened for
   the burst: the benchmark's own HTTP/2 connection would hide the handshakes they cost the
   API server.

The controller watches only the benchmark's namespace, with `--max-progressing=0` (the R
releases run at once) and its defaults otherwise. Timestamps
are the benchmark's monotonic clock when a watch event arrives. Prints one JSON line, appended
to bench/results.jsonl. Never asserts a target: bench/README.md compares.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import harness
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.watch import watch
from canary.sandbox.nodes import NODE, fake_node

INTERVAL = 10
CONCURRENCY = 16
SAMPLE_EVERY = 5.0
# How often the sandbox's Prometheus scrapes the mesh simulator, for a sandbox this starts; start
# one for `--dir` with `canary sandbox up --scrape-interval 15s`. No Canary here has a metric
# check, and at 1000 Canaries a scrape is 18 MB: every second, Prometheus and the simulator took
# 0.3 of the machine's 2 cores from the API server (bench/README.md).
SCRAPE_INTERVAL = "15s"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Schedule:
    """The analysis of every Canary: `steps` steps of `step_weight` up to `max_weight`."""

    step_weight: int
    max_weight: int

    @property
    def steps(self) -> int:
        return self.max_weight // self.step_weight

    @property
    def steady_from(self) -> int:
        """The step from which a run is steady: its `Advance` events combine (past client-go's
        10 distinct messages) and cost a fraction of a write, as every later step does."""
        return min(self.steps - 1, 12)


@dataclass
class Follower:
    """Every Canary of the namespace as the watch delivers it: phase and step times."""

    phases: dict[str, list[tuple[float, str]]] = field(default_factory=lambda: defaultdict(list))
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    last_step: dict[str, str] = field(default_factory=dict)
    with_status: set[str] = field(default_factory=set)
    known: set[str] = field(default_factory=set)

    def see(self, obj: dict[str, Any], at: float) -> None:
        name = str((obj.get("metadata") or {}).get("name"))
        self.known.add(name)
        status = obj.get("status") or {}
        if set(status) - {"observedGeneration"}:
            self.with_status.add(name)
        phase = status.get("phase")
        history = self.phases[name]
        if isinstance(phase, str) and (not history or history[-1][1] != phase):
            history.append((at, phase))
        step = status.get("lastStepTime")
        if isinstance(step, str) and step != self.last_step.get(name):
            self.last_step[name] = step
            self.steps[name].append(at)

    def phase(self, name: str) -> str | None:
        history = self.phases.get(name)
        return history[-1][1] if history else None

    def started(self, name: str, *, since: float) -> bool:
        """Whether `name` was seen Progressing at `since` or later."""
        return any(at >= since and phase == "Progressing" for at, phase in self.phases[name])

    def count(self, phase: str) -> int:
        return sum(1 for name in self.known if self.phase(name) == phase)


@contextlib.asynccontextmanager
async def following(api: ApiClient, namespace: str) -> AsyncIterator[Follower]:
    follower = Follower()

    async def follow() -> None:
        async for event in watch(api, harness.CANARIES, namespace=namespace):
            now = time.monotonic()
            for obj in event.items if event.kind == "SYNCED" else (event.object,):
                if event.kind != "DELETED":
                    follower.see(obj, now)

    task = asyncio.create_task(follow(), name="bench scale watch")
    try:
        yield follower
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def manifests(
    namespace: str, index: int, schedule: Schedule
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deployment and Canary number `index`: examples/podinfo's, renamed, 1 replica."""
    name = f"app-{index:04d}"
    deployment = harness._example("deployment.yaml")  # the shared example
    deployment["metadata"].update(name=name, namespace=namespace, labels={"app": name})
    deployment["spec"]["replicas"] = 1
    deployment["spec"]["selector"] = {"matchLabels": {"app": name}}
    deployment["spec"]["template"]["metadata"]["labels"] = {"app": name}
    canary = harness._example("canary.yaml")
    canary["metadata"].update(name=name, namespace=namespace)
    canary["spec"]["targetRef"]["name"] = name
    canary["spec"]["progressDeadlineSeconds"] = 600
    canary["spec"]["analysis"] = {
        "interval": f"{INTERVAL}s",
        "threshold": 2,
        "maxWeight": schedule.max_weight,
        "stepWeight": schedule.step_weight,
    }
    return deployment, canary


class Process:
    """CPU and RSS of one process from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.ticks = os.sysconf("SC_CLK_TCK")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks  # utime + stime

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


async def totals(controller: harness.Controller) -> tuple[float, float]:
    """(all API requests, writes) the controller has sent so far."""
    requests = await controller.api_requests()
    return (
        sum(requests.values()),
        sum(v for (verb, _, _), v in requests.items() if verb in WRITES),
    )


async def connections(controller: harness.Controller) -> float:
    """HTTP/2 connections the controller has opened to the API server so far."""
    samples = await controller.samples("canary_api_http2_connections_total")
    return sum(value for _, value in samples)


async def request_seconds(controller: harness.Controller) -> dict[str, tuple[float, float]]:
    """'VERB resource' -> (requests answered, seconds they took), from the controller's
    `canary_api_request_duration_seconds`."""
    found: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for suffix, index in (("_count", 0), ("_sum", 1)):
        for labels, value in await controller.samples(
            f"canary_api_request_duration_seconds{suffix}"
        ):
            found[f"{labels.get('verb')} {labels.get('resource')}"][index] += value
    return {key: (count, seconds) for key, (count, seconds) in found.items()}


def mean_ms(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, dict[str, float]]:
    """Per 'VERB resource': requests and their mean answer time (ms) between two snapshots."""
    figures = {}
    for key, (count, seconds) in sorted(after.items()):
        count_before, seconds_before = before.get(key, (0.0, 0.0))
        if count > count_before:
            mean = (seconds - seconds_before) * 1000 / (count - count_before)
            figures[key] = {"requests": count - count_before, "mean_ms": round(mean, 1)}
    return figures


async def slow_cycles(controller: harness.Controller, over: str = "10.0") -> float:
    samples = await controller.samples("canary_reconcile_duration_seconds_bucket")
    within = next((v for labels, v in samples if labels.get("le") == over), 0.0)
    everything = next((v for labels, v in samples if labels.get("le") == "+Inf"), 0.0)
    return everything - within


async def create_all(api: ApiClient, namespace: str, count: int, schedule: Schedule) -> None:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(index: int) -> None:
        async with limit:
            for manifest in manifests(namespace, index, schedule):
                await resources.apply(api, manifest, field_manager=harness.FIELD_MANAGER)

    async with asyncio.TaskGroup() as group:
        for index in range(count):
            group.create_task(one(index))


async def initialization(  # noqa: PLR0913 - keyword-only: what the phase works with
    api: ApiClient,
    namespace: str,
    *,
    controller: harness.Controller,
    follower: Follower,
    count: int,
    schedule: Schedule,
    within: float,
) -> dict[str, Any]:
    """The creation burst, until every Canary is Initialized or `within` seconds have passed
    (then `all_initialized_s` is None and `initialized` says how many were)."""
    started = time.monotonic()
    creating = asyncio.create_task(create_all(api, namespace, count, schedule))
    timeline: list[dict[str, float]] = []
    requests_before, _ = await totals(controller)
    all_status: float | None = None
    while True:
        await asyncio.sleep(SAMPLE_EVERY)
        now = time.monotonic()
        requests, _ = await totals(controller)
        initialized = follower.count("Initialized")
        timeline.append(
            {
                "t": round(now - started, 1),
                "requests_per_s": round((requests - requests_before) / SAMPLE_EVERY, 1),
                "created": len(follower.known),
                "without_status": len(follower.known) - len(follower.with_status),
                "initialized": initialized,
            }
        )
        requests_before = requests
        if all_status is None and len(follower.with_status) >= count:
            all_status = now - started
        if initialized >= count or now - started > within:
            break
        if creating.done() and creating.exception() is not None:
            raise creating.exception()  # type: ignore[misc]
    await creating
    done = follower.count("Initialized") >= count
    return {
        "all_initialized_s": round(time.monotonic() - started, 1) if done else None,
        "initialized": follower.count("Initialized"),
        "all_with_status_s": round(all_status or time.monotonic() - started, 1),
        "failed_or_other": {
            phase: sum(1 for n in follower.known if follower.phase(n) == phase)
            for phase in {follower.phase(n) for n in follower.known} - {"Initialized"}
            if phase is not None
        },
        "cycles_over_10s": await slow_cycles(controller),
        "timeline": timeline,
    }


async def idle(controller: harness.Controller, process: Process, seconds: float) -> dict[str, Any]:
    """Requests, CPU and RSS over `seconds` of idling. A watch request is reopened every few
    minutes (`canary.kube.watch.SERVER_TIMEOUT`), the same for any number of Canaries: those
    are counted apart, so a window that happens to hold them does not read as polling."""
    requests_before = await controller.api_requests()
    cpu_before = process.cpu_seconds()
    await asyncio.sleep(seconds)
    requests = await controller.api_requests()
    # The two /metrics reads are requests to the controller, not to the API server.
    sent: dict[str, float] = defaultdict(float)
    for (verb, resource, code), count in requests.items():
        if count > requests_before.get((verb, resource, code), 0):
            sent[f"{verb} {resource}"] += count - requests_before.get((verb, resource, code), 0)
    watches = sum(count for key, count in sent.items() if key.startswith("WATCH "))
    return {
        "seconds": seconds,
        "api_requests_per_min": round((sum(sent.values()) - watches) * 60 / seconds, 2),
        "watch_reopens_per_min": round(watches * 60 / seconds, 2),
        "requests": dict(sent),
        "cpu_cores": round((process.cpu_seconds() - cpu_before) / seconds, 4),
        "rss_mib": round(process.rss_mib(), 1),
    }


async def releasing(  # noqa: PLR0913 - keyword-only: what the release phase works with
    patcher: ApiClient,
    namespace: str,
    *,
    controller: harness.Controller,
    process: Process,
    follower: Follower,
    count: int,
    schedule: Schedule,
) -> dict[str, Any]:
    names = [f"app-{index:04d}" for index in range(count)]
    before = {name: len(follower.steps[name]) for name in names}
    cpu_before, started = process.cpu_seconds(), time.monotonic()
    first = await totals(controller)
    connections_before = await connections(controller)
    timed_before = await request_seconds(controller)
    detected: dict[str, dict[str, float]] | None = None
    sent: dict[str, float] = {}

    async def change(name: str) -> None:
        await harness.change_target(patcher, namespace, "v2", name=name)
        sent[name] = time.monotonic()

    async with asyncio.TaskGroup() as group:
        for name in names:
            group.create_task(change(name))
    window: dict[str, tuple[float, float]] = {}  # totals at the 2nd step seen, at the 10th
    rss_peak = process.rss_mib()
    deadline = started + (schedule.steps + 10) * INTERVAL + 120
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        rss_peak = max(rss_peak, process.rss_mib())
        progressed = [len(follower.steps[name]) - before[name] for name in names]
        if detected is None and all(follower.started(name, since=started) for name in names):
            # what the API server's answers cost while the changes were being detected
            detected = mean_ms(timed_before, await request_seconds(controller))
        if "start" not in window and min(progressed) >= schedule.steady_from:
            window["start"] = await totals(controller)
            start_steps = sum(progressed)
        if "end" not in window and min(progressed) >= schedule.steps:
            window["end"] = await totals(controller)
            end_steps = sum(progressed)
        if all(follower.phase(name) in {"Succeeded", "Failed"} for name in names):
            break
    cpu = (process.cpu_seconds() - cpu_before) / (time.monotonic() - started)
    last = await totals(controller)
    all_steps = sum(len(follower.steps[name]) - before[name] for name in names)
    detection = []
    for name in names:
        progressing = next(
            (at for at, phase in follower.phases[name] if phase == "Progressing" and at >= started),
            None,
        )
        if progressing is not None:
            detection.append(max(0.0, progressing - sent[name]))
    # The analysis steps (weight 5 .. 50) of each run: the time between two, minus the interval.
    lateness = [
        later - earlier - INTERVAL
        for name in names
        for earlier, later in itertools.pairwise(
            follower.steps[name][before[name] : before[name] + schedule.steps]
        )
    ]
    figures: dict[str, Any] = {
        "canaries": count,
        "outcomes": {
            phase: sum(1 for n in names if follower.phase(n) == phase)
            for phase in {follower.phase(n) for n in names}
            if phase is not None
        },
        "detection_s": harness.summary(detection) if detection else None,
        "api_during_detection": detected,
        "step_lateness_s": harness.summary(lateness) if lateness else None,
        "cpu_cores": round(cpu, 3),
        "rss_peak_mib": round(rss_peak, 1),
        "seconds": round(time.monotonic() - started, 1),
        # HTTP/2 connections the controller opened over the release: 0 when the one it had
        # outlived the quiet spell before the burst.
        "http2_connections_opened": await connections(controller) - connections_before,
        # The whole release, its start and its promotion included: every lastStepTime counts.
        "whole_release": {
            "steps": all_steps,
            "requests_per_step": round((last[0] - first[0]) / max(1, all_steps), 3),
            "writes_per_step": round((last[1] - first[1]) / max(1, all_steps), 3),
        },
    }
    if "start" in window and "end" in window:
        steps = end_steps - start_steps
        figures["requests_per_step"] = round((window["end"][0] - window["start"][0]) / steps, 3)
        figures["writes_per_step"] = round((window["end"][1] - window["start"][1]) / steps, 3)
        figures["steady_steps"] = steps
    return figures


def _progress(figures: dict[str, Any]) -> None:
    """The figures so far, on stderr: a run cut short still shows its finished phases."""
    print(json.dumps({"partial": True, **figures}), file=sys.stderr, flush=True)


PODS_PER_NODE = 250  # canary.sandbox.nodes.fake_node's capacity


@contextlib.asynccontextmanager
async def room_for(api: ApiClient, pods: int) -> AsyncIterator[None]:
    """Enough kwok nodes for `pods` more pods: the sandbox's own hold 750 (3 x 250), and a
    primary that cannot be scheduled keeps its Canary Initializing. Deleted afterwards."""
    names = [f"bench-scale-node-{index}" for index in range(-(-pods // PODS_PER_NODE))]
    for name in names:
        await resources.apply(api, fake_node(name), field_manager=harness.FIELD_MANAGER)
    try:
        yield
    finally:
        for name in names:
            await resources.delete(api, NODE, name, namespace=None)


async def main(arguments: argparse.Namespace) -> None:
    with harness.sandbox(arguments.dir, scrape_interval=SCRAPE_INTERVAL) as state:
        async with (
            harness.client(state) as api,
            harness.client(state, http2=False) as patcher,
            harness.namespace(api, "scale") as namespace,
        ):
            # Every releasing Canary at once: no limit of releases under way (default 10).
            extra = ["--max-progressing=0"]
            if arguments.max_parallel:
                extra.append(f"--max-parallel={arguments.max_parallel}")
            async with (
                room_for(api, arguments.canaries + arguments.releasing),
                harness.controller(state, namespace, extra=extra) as controller,
                following(api, namespace) as follower,
            ):
                process = Process(controller.record.pid)
                rss_empty = process.rss_mib()
                figures: dict[str, Any] = {"canaries": arguments.canaries}
                schedule = Schedule(arguments.step_weight, arguments.max_weight)
                figures["initialization"] = await initialization(
                    api,
                    namespace,
                    controller=controller,
                    follower=follower,
                    count=arguments.canaries,
                    schedule=schedule,
                    within=arguments.init_within,
                )
                _progress(figures)
                if figures["initialization"]["all_initialized_s"] is None:
                    figures["load_average"] = os.getloadavg()
                    harness.record("scale", figures)  # cut short: nothing idles or releases
                    return
                await asyncio.sleep(arguments.settle)
                figures["idle"] = await idle(controller, process, arguments.idle)
                figures["rss_per_canary_kib"] = round(
                    (figures["idle"]["rss_mib"] - rss_empty) * 1024 / arguments.canaries, 1
                )
                figures["rss_empty_mib"] = round(rss_empty, 1)
                _progress(figures)
                if arguments.releasing:
                    figures["release"] = await releasing(
                        patcher,
                        namespace,
                        controller=controller,
                        process=process,
                        follower=follower,
                        count=arguments.releasing,
                        schedule=schedule,
                    )
                figures["load_average"] = os.getloadavg()
                figures["settings"] = {
                    "analysis": {
                        "interval": f"{INTERVAL}s",
                        "stepWeight": schedule.step_weight,
                        "maxWeight": schedule.max_weight,
                    },
                    "steady_from_step": schedule.steady_from,
                    "metric_checks": 0,
                    "creation_concurrency": CONCURRENCY,
                    "nice": os.nice(0),
                    "meshsim_scrape_interval": state.scrape_interval,
                }
                harness.record("scale", figures)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    harness.add_common_arguments(parser)
    parser.add_argument("--canaries", type=int, default=100)
    parser.add_argument("--releasing", type=int, default=100)
    parser.add_argument("--idle", type=float, default=60.0, help="seconds measured idle")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds before idle")
    parser.add_argument("--max-parallel", type=int, default=0, help="0: the controller's default")
    parser.add_argument(
        "--init-within",
        type=float,
        default=1800.0,
        help="seconds the creation burst may take; past them the run records what it has",
    )
    parser.add_argument("--step-weight", type=int, default=2)
    parser.add_argument("--max-weight", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
