"""What the controller benchmarks share: a sandbox, the CRDs, a namespace with podinfo and a
Canary in it, the controller as its own process, its /metrics, and a watch on the Canary.

Everything listens on 127.0.0.1. A sandbox given with `--dir` that already runs is reused and
left running; otherwise one is started (in `--dir`, or in a temporary directory) and stopped at
the end. Each benchmark gets a fresh namespace, deleted afterwards, and a controller that
watches only that namespace, so its /metrics count nothing but the benchmark's Canary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import json
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from kubernetes_asyncio.client import ApiClient
from prometheus_client.parser import text_string_to_metric_families

from canary.api.crd import all_crds
from canary.kube import resources
from canary.kube.client import api_client
from canary.kube.crds import install_crds
from canary.kube.watch import watch
from canary.sandbox import cluster, processes
from canary.sandbox.binaries import default_cache_root, ensure_binaries
from canary.sandbox.controller import controller_argv
from canary.sandbox.ports import free_ports
from canary.sandbox.state import MESHSIM_SCRAPE_INTERVAL, SandboxState

RESULTS = Path(__file__).with_name("results.jsonl")
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "podinfo"
CANARIES = resources.resource_kind("canary.dev/v1alpha1", "Canary")
NAME = "podinfo"
FIELD_MANAGER = "canary-bench"


def _quiet(_message: str) -> None:
    pass


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="sandbox state directory: reused when a sandbox runs there, else started there "
        "and stopped at the end (default: a temporary directory)",
    )


@contextlib.contextmanager
def sandbox(
    directory: Path | None, *, scrape_interval: str = MESHSIM_SCRAPE_INTERVAL
) -> Iterator[SandboxState]:
    """A running sandbox: the one in `directory` if it is up (left running), else a new one,
    whose Prometheus scrapes the mesh simulator every `scrape_interval`."""
    if directory is not None:
        existing = SandboxState.load(directory)
        if existing is not None and cluster.is_up(existing):
            yield existing
            return
    with contextlib.ExitStack() as stack:
        if directory is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "sandbox"
        binaries = ensure_binaries(default_cache_root(), _quiet)
        state = cluster.up(directory, binaries, _quiet, scrape_interval=scrape_interval)
        try:
            yield state
        finally:
            cluster.down(directory, _quiet)


def record(name: str, figures: dict[str, Any]) -> None:
    """Print the figures as one JSON line and append it to bench/results.jsonl."""
    line = json.dumps(
        {
            "benchmark": name,
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            **figures,
        }
    )
    print(line)
    with RESULTS.open("a") as results:
        results.write(line + "\n")


def summary(samples: list[float]) -> dict[str, float]:
    """p50, p99 (nearest rank) and max of `samples`, in seconds, rounded to the millisecond."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered)) - 1))]
    return {
        "p50": round(statistics.median(ordered), 3),
        "p99": round(p99, 3),
        "max": round(ordered[-1], 3),
    }


# --- the controller -------------------------------------------------------------------------


@dataclass
class Controller:
    """`canary run` as its own process, watching one namespace, serving /metrics."""

    record: processes.ProcessRecord
    url: str

    async def ready(self, seconds: float = 30.0) -> None:
        """Until /readyz answers 200 (every watch has listed once)."""
        deadline = time.monotonic() + seconds
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                if not processes.is_running(self.record):
                    raise RuntimeError(f"the controller exited; its log: {self.record.log}")
                await asyncio.sleep(0.1)  # the process has no other way to say it is up
        raise TimeoutError(f"the controller was not ready in {seconds:g} s; log {self.record.log}")

    async def samples(self, name: str) -> list[tuple[dict[str, str], float]]:
        """The samples called `name` (e.g. `canary_api_requests_total`) on /metrics now."""
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{self.url}/metrics") as response,
        ):
            text = await response.text()
        return [
            (dict(sample.labels), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name
        ]

    async def api_requests(self) -> dict[tuple[str, str, str], float]:
        """`canary_api_requests_total` now, by (verb, resource, code)."""
        return {
            (labels["verb"], labels["resource"], labels["code"]): value
            for labels, value in await self.samples("canary_api_requests_total")
        }

    async def reconcile_seconds(self) -> tuple[float, float]:
        """`canary_reconcile_duration_seconds` now: (sum, count)."""
        samples: dict[str, float] = {}
        for name in ("sum", "count"):
            for _labels, value in await self.samples(f"canary_reconcile_duration_seconds_{name}"):
                samples[name] = value
        return samples.get("sum", 0.0), samples.get("count", 0.0)

    async def reconciles(self) -> dict[str, float]:
        """`canary_reconcile_total` now, by result."""
        return {
            labels["result"]: value
            for labels, value in await self.samples("canary_reconcile_total")
        }


@contextlib.asynccontextmanager
async def controller(
    state: SandboxState, namespace: str, *, min_interval: float = 1.0, extra: Sequence[str] = ()
) -> AsyncIterator[Controller]:
    """The controller for `namespace`, ready; `extra` flags are added to its command line."""
    (port,) = free_ports(1)
    argv = controller_argv(
        state, namespace=namespace, port=port, min_interval=min_interval, extra=extra
    )
    directory = Path(state.directory)
    log = directory / "logs" / f"controller-{namespace}.log"
    record_ = processes.start("controller", argv, log=log, cwd=directory)
    running = Controller(record_, f"http://127.0.0.1:{port}")
    try:
        await running.ready()
        yield running
    finally:
        await asyncio.to_thread(processes.stop, record_)


# --- the cluster side -----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def namespace(api: ApiClient, stem: str) -> AsyncIterator[str]:
    """The CRDs installed and a fresh namespace, deleted (with all it holds) afterwards."""
    await install_crds(api, all_crds().values())
    name = f"bench-{stem}-{uuid.uuid4().hex[:6]}"
    manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    await resources.apply(api, manifest, field_manager=FIELD_MANAGER)
    try:
        yield name
    finally:
        await resources.delete(
            api, resources.resource_kind("v1", "Namespace"), name, namespace=None
        )


def _example(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((EXAMPLES / name).read_text())
    if not isinstance(loaded, dict):
        raise TypeError(f"{name}: expected one manifest")
    return loaded


async def deploy(
    api: ApiClient, namespace: str, *, analysis: dict[str, Any], replicas: int = 1
) -> None:
    """examples/podinfo's Deployment and MetricTemplate, and its Canary with `analysis`."""
    deployment = _example("deployment.yaml")
    deployment["spec"]["replicas"] = replicas
    canary = _example("canary.yaml")
    canary["spec"]["analysis"] = analysis
    for manifest in (deployment, _example("metrictemplate.yaml"), canary):
        manifest["metadata"]["namespace"] = namespace
        await resources.apply(api, manifest, field_manager=FIELD_MANAGER)


async def change_target(api: ApiClient, namespace: str, revision: str, *, name: str = NAME) -> None:
    """A new pod template for Deployment `name`, as a CI pipeline would make it: one
    annotation changes."""
    patch = {"spec": {"template": {"metadata": {"annotations": {"bench/revision": revision}}}}}
    await resources.merge_patch(
        api,
        resources.DEPLOYMENT,
        name,
        namespace=namespace,
        patch=patch,
        field_manager=FIELD_MANAGER,
    )


def example_analysis() -> dict[str, Any]:
    """examples/podinfo/canary.yaml's analysis (three metric checks, one from a template)."""
    analysis = _example("canary.yaml")["spec"]["analysis"]
    if not isinstance(analysis, dict):
        raise TypeError("canary.yaml: spec.analysis is not a mapping")
    return analysis


def with_analysis(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    analysis = copy.deepcopy(base)
    analysis.update(changes)
    return analysis


# --- watching the Canary --------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """The Canary's status as the benchmark's watch delivered it, at `at` (monotonic seconds)."""

    at: float
    status: dict[str, Any]

    @property
    def phase(self) -> str | None:
        phase = self.status.get("phase")
        return phase if isinstance(phase, str) else None

    @property
    def weight(self) -> int:
        return int(self.status.get("canaryWeight") or 0)


@dataclass
class CanaryWatch:
    """Every status of the Canary, as a watch event arrives (no polling), timestamped."""

    queue: asyncio.Queue[Seen] = field(default_factory=asyncio.Queue)
    latest: Seen | None = None

    async def next(self, seconds: float) -> Seen:
        async with asyncio.timeout(seconds):
            seen = await self.queue.get()
        self.latest = seen
        return seen

    async def until(self, predicate: Callable[[Seen], bool], *, seconds: float) -> Seen:
        """The first status, from now on (the latest seen included), that satisfies `predicate`."""
        if self.latest is not None and predicate(self.latest) and self.queue.empty():
            return self.latest
        deadline = time.monotonic() + seconds
        while True:
            seen = await self.next(max(0.0, deadline - time.monotonic()))
            if predicate(seen):
                return seen

    def drain(self) -> None:
        """Forget what arrived so far (keeping the latest)."""
        while not self.queue.empty():
            self.latest = self.queue.get_nowait()


@contextlib.asynccontextmanager
async def watch_canary(api: ApiClient, namespace: str) -> AsyncIterator[CanaryWatch]:
    watcher = CanaryWatch()

    async def follow() -> None:
        async for event in watch(api, CANARIES, namespace=namespace):
            objects = event.items if event.kind == "SYNCED" else (event.object,)
            now = time.monotonic()
            for obj in objects:
                if (obj.get("metadata") or {}).get("name") == NAME:
                    watcher.queue.put_nowait(Seen(now, dict(obj.get("status") or {})))

    task = asyncio.create_task(follow(), name="bench canary watch")
    try:
        yield watcher
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def client(state: SandboxState, *, http2: bool = True) -> AsyncIterator[ApiClient]:
    async with api_client(Path(state.kubeconfig), http2=http2) as api:
        yield api


TERMINAL = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class Release:
    """One release as the watch saw it: when the target changed, and every status after."""

    started: float  # monotonic seconds just before the change was sent
    sent: float  # when the API server had answered the change
    seen: tuple[Seen, ...]

    def first(self, predicate: Callable[[Seen], bool]) -> Seen:
        return next(seen for seen in self.seen if predicate(seen))

    @property
    def outcome(self) -> str | None:
        return self.seen[-1].phase if self.seen else None


async def release(
    api: ApiClient, namespace: str, canary: CanaryWatch, revision: str, *, seconds: float
) -> Release:
    """Change the target and follow the Canary until the release ends (Succeeded or Failed)."""
    await canary.until(lambda seen: seen.phase in TERMINAL | {"Initialized"}, seconds=seconds)
    canary.drain()
    started = time.monotonic()
    await change_target(api, namespace, revision)
    sent = time.monotonic()
    seen: list[Seen] = []
    deadline = started + seconds
    while True:
        status = await canary.next(max(0.0, deadline - time.monotonic()))
        seen.append(status)
        if status.phase in TERMINAL and any(s.phase == "Progressing" for s in seen):
            return Release(started, sent, tuple(seen))
