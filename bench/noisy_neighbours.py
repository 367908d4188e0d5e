"""Benchmark: how late healthy Canaries' steps are beside Canaries whose webhooks hang.

Run with `python bench/noisy_neighbours.py [--dir SANDBOX] [--noisy N] [--healthy M]
[--duration SECONDS]`. In one namespace, under one controller with its default `--max-parallel`:
N "noisy" Canaries whose pre-rollout and rollout webhooks go to a receiver that never answers,
at the largest timeout the API allows them (9 s, below their 10 s interval) and the most
retries (5); and M healthy Canaries (interval 2s, stepWeight 1 up to 99, no checks, no hooks).
All N noisy releases are started first, and the healthy ones only once every noisy Canary has a
webhook call under way. Then, for `--duration` seconds, every healthy step is taken from the
Canaries' `status.lastStepTime` as a watch delivers it: a step's lateness is the time since the
previous step minus the interval. It prints one JSON line (p50/p99/max lateness, the number of
steps, how many hook requests hung) and appends it to bench/results.jsonl. Target: p99 under
1 s; this prints, it does not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import harness
from aiohttp import web

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.watch import watch
from canary.sandbox.ports import free_ports
from canary.sandbox.state import SandboxState

HEALTHY_INTERVAL = 2.0
NOISY_HOOK = {"timeout": "9s", "retries": 5}  # the largest the API allows below a 10s interval


class HangingReceiver:
    """A webhook receiver that holds every request open until it stops."""

    def __init__(self) -> None:
        self.received = 0
        self._stop = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/hang", self._hang)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        port = free_ports(1)[0]
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}/hang"
        finally:
            self._stop.set()
            await runner.cleanup()

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.received += 1
        await self._stop.wait()
        return web.Response(status=503)


def deployment(name: str, namespace: str) -> dict[str, Any]:
    """A podinfo Deployment called `name` (one replica: kwok runs it, no real pods)."""
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "image": "ghcr.io/stefanprodan/podinfo:6.7.0",
                            "ports": [{"name": "http", "containerPort": 9898}],
                        }
                    ]
                },
            },
        },
    }


def canary(name: str, namespace: str, analysis: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "provider": "linkerd",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "progressDeadlineSeconds": 3600,
            "service": {"port": 9898},
            "analysis": analysis,
        },
    }


def noisy_analysis(url: str) -> dict[str, Any]:
    hooks = [
        {"name": kind, "type": kind, "url": url, **NOISY_HOOK}
        for kind in ("pre-rollout", "rollout")
    ]
    return {
        "interval": "10s",
        "threshold": 100,
        "stepWeight": 10,
        "maxWeight": 50,
        "metrics": [],
        "webhooks": hooks,
    }


HEALTHY_ANALYSIS: dict[str, Any] = {
    "interval": f"{HEALTHY_INTERVAL:g}s",
    "threshold": 100,
    "stepWeight": 1,
    "maxWeight": 99,
    "metrics": [],
}


class Steps:
    """Every Canary's phase and each distinct `lastStepTime`, as the watch delivers them."""

    def __init__(self) -> None:
        self.phases: dict[str, str] = {}
        self.steps: dict[str, list[datetime]] = {}
        self.recording = False

    def see(self, obj: dict[str, Any]) -> None:
        name = str((obj.get("metadata") or {}).get("name"))
        status = obj.get("status") or {}
        self.phases[name] = str(status.get("phase") or "")
        stamp = status.get("lastStepTime")
        if not self.recording or not stamp:
            return
        at = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        seen = self.steps.setdefault(name, [])
        if not seen or seen[-1] != at:
            seen.append(at)

    def all_in(self, names: list[str], phases: set[str]) -> bool:
        return all(self.phases.get(name) in phases for name in names)


async def follow(api: ApiClient, namespace: str, steps: Steps) -> None:
    async for event in watch(api, harness.CANARIES, namespace=namespace):
        for obj in event.items if event.kind == "SYNCED" else (event.object,):
            steps.see(obj)


async def wait_for(condition: Any, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {seconds:g} s")
        await asyncio.sleep(0.1)  # a benchmark's poll of its own in-memory record


async def loop_lag(running: harness.Controller) -> dict[str, float]:
    """The controller's event loop lag samples: how many, and how many over 100 ms / 1 s."""
    buckets = {
        labels["le"]: value
        for labels, value in await running.samples("canary_event_loop_lag_seconds_bucket")
    }
    total = buckets.get("+Inf", 0.0)
    return {
        "samples": total,
        "over_100ms": total - buckets.get("0.1", 0.0),
        "over_1s": total - buckets.get("1.0", 0.0),
    }


async def measure(state: SandboxState, args: argparse.Namespace) -> dict[str, Any]:
    noisy = [f"noisy-{i}" for i in range(args.noisy)]
    healthy = [f"healthy-{i}" for i in range(args.healthy)]
    receiver = HangingReceiver()
    steps = Steps()
    async with (
        receiver.running() as url,
        harness.client(state) as api,
        harness.namespace(api, "noisy") as namespace,
    ):
        for name in noisy + healthy:
            analysis = noisy_analysis(url) if name in noisy else HEALTHY_ANALYSIS
            await resources.apply(
                api, deployment(name, namespace), field_manager=harness.FIELD_MANAGER
            )
            await resources.apply(
                api, canary(name, namespace, analysis), field_manager=harness.FIELD_MANAGER
            )
        watcher = asyncio.create_task(follow(api, namespace, steps))
        try:
            # Every release runs at once: --max-progressing would make most of them wait.
            extra = ["--max-progressing=0"]
            async with harness.controller(state, namespace, extra=extra) as running:
                await wait_for(
                    lambda: steps.all_in(noisy + healthy, {"Initialized"}),
                    seconds=300,
                    what="all Initialized",
                )
                for name in noisy:
                    await harness.change_target(api, namespace, "2", name=name)
                await wait_for(
                    lambda: receiver.received >= len(noisy),
                    seconds=120,
                    what="every noisy hook held",
                )
                steps.recording = True
                for name in healthy:
                    await harness.change_target(api, namespace, "2", name=name)
                await asyncio.sleep(args.duration)  # the measurement window
                steps.recording = False
                reconciles = await running.reconciles()
                lag = await loop_lag(running)
                noisy_phases = sorted({steps.phases.get(name, "") for name in noisy})
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    lateness = [
        max(0.0, (later - earlier).total_seconds() - HEALTHY_INTERVAL)
        for name in healthy
        for earlier, later in zip(
            steps.steps.get(name, []), steps.steps.get(name, [])[1:], strict=False
        )
    ]
    return {
        "noisy": args.noisy,
        "healthy": args.healthy,
        "duration_s": args.duration,
        "noisy_hook": NOISY_HOOK,
        "healthy_interval_s": HEALTHY_INTERVAL,
        "healthy_steps": len(lateness),
        "healthy_step_lateness_s": harness.summary(lateness) if lateness else None,
        "hook_requests_received": receiver.received,
        "noisy_phases": noisy_phases,
        "reconciles": reconciles,
        "event_loop_lag": lag,
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    harness.add_common_arguments(parser)
    parser.add_argument("--noisy", type=int, default=20, help="Canaries whose webhooks hang")
    parser.add_argument("--healthy", type=int, default=20, help="Canaries measured")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured")
    args = parser.parse_args()
    with harness.sandbox(args.dir) as state:
        figures = asyncio.run(measure(state, args))
    harness.record("noisy_neighbours", figures)


if __name__ == "__main__":
    main()
