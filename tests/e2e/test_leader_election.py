"""Two controller processes with `--leader-elect` for the same Canaries: one acts, one waits.

What each test observes, and why it is sound:
- Who holds the Lease: a watch on the Lease (every version of it, with the monotonic time the
  test saw it). A holder identity is `<host>_<pid>_<random>`, so it names the process.
- Which process wrote what: each process reaches the API server only through its own recording
  proxy (`tests/e2e/apiproxy.py`), which notes every write with the time it arrived. A process
  cannot write without the proxy seeing it, whatever it logs or believes.
- The release: the recorder's history of TrafficSplit weights, compared with the configured
  steps as in `test_restart.py`.

The Lease is short here (8 s, renew deadline 5 s, retry period 1 s: client-go's proportions)
so that a failover takes seconds. Every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from itertools import pairwise
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from canary.kube.resources import LEASE
from canary.kube.watch import watch
from canary.sandbox.controller import LeaderElection
from canary.sandbox.ports import free_ports
from tests.e2e.apiproxy import RecordingProxy
from tests.e2e.harness import (
    IMAGE,
    POLL,
    Controller,
    Controllers,
    History,
    Recorder,
    apply,
    canary,
    deployment,
    get_deployment,
    image_of,
    set_template,
)
from tests.integration.waiting import eventually

NAME = "podinfo"
LEASE_NAME = "canary-controller-test"
LEASE_DURATION = 8.0
RENEW_DEADLINE = 5.0
RETRY_PERIOD = 1.0
INTERVAL = 3.0
STEPS = [10, 20, 30, 40, 50]
JITTER = 0.3  # the recorder sees each change through a watch, a little after it was made
LATENCY = 1.0  # what a request and a watch event may add to a measured delay


def election(namespace: str) -> LeaderElection:
    return LeaderElection(
        namespace=namespace,
        name=LEASE_NAME,
        lease_duration=LEASE_DURATION,
        renew_deadline=RENEW_DEADLINE,
        retry_period=RETRY_PERIOD,
    )


# --- what the Lease went through --------------------------------------------------------------


@dataclass(frozen=True)
class LeaseView:
    holder: str
    duration: int
    acquired: datetime | None
    renewed: datetime | None

    @classmethod
    def of(cls, obj: dict[str, Any]) -> LeaseView:
        spec = obj.get("spec") or {}
        return cls(
            holder=str(spec.get("holderIdentity") or ""),
            duration=int(spec.get("leaseDurationSeconds") or 0),
            acquired=_time(spec.get("acquireTime")),
            renewed=_time(spec.get("renewTime")),
        )

    @property
    def pid(self) -> int | None:
        """The pid in the holder's identity (`<host>_<pid>_<random>`), or None when released."""
        return int(self.holder.rsplit("_", 2)[1]) if self.holder else None


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


class LeaseWatch:
    """Every version of the Lease, with the monotonic time it was seen."""

    def __init__(self, api: ApiClient, *, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.history: History[LeaseView] = History()
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[LeaseWatch]:
        self._task = asyncio.create_task(self._follow(), name="record the Lease")
        try:
            yield self
        finally:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _follow(self) -> None:
        async for event in watch(self.api, LEASE, namespace=self.namespace):
            objects = event.items if event.kind == "SYNCED" else (event.object,)
            for obj in objects:
                if (obj.get("metadata") or {}).get("name") == LEASE_NAME:
                    self.history.add(LeaseView.of(obj))

    async def wait(
        self, condition: Callable[[LeaseView], bool], *, within: float, what: str
    ) -> float:
        """Until a version of the Lease satisfies `condition`; the monotonic time it was seen."""
        deadline = time.monotonic() + within
        while True:
            for sample in self.history.samples:
                if condition(sample.value):
                    return sample.at
            if self._task is not None and self._task.done():
                raise AssertionError(f"the Lease watch stopped: {self._task!r}")
            if time.monotonic() > deadline:
                seen = [(round(s.at, 2), s.value.holder) for s in self.history.samples]
                raise AssertionError(f"{what} not seen within {within:g} s; Lease seen: {seen}")
            await asyncio.sleep(POLL)

    def held_by(self, pid: int) -> list[float]:
        """When the versions of the Lease held by process `pid` were seen."""
        return [s.at for s in self.history.samples if s.value.pid == pid]


def _before_release(versions: list[LeaseView]) -> LeaseView:
    """The last version of the Lease before it was released: the lease that was given up."""
    released = next(i for i, v in enumerate(versions) if i > 0 and v.holder == "")
    return versions[released - 1]


class HeldHook:
    """A rollout webhook that answers 200 at once, except for one call it holds when told to."""

    def __init__(self) -> None:
        self._hold = False
        self._held = asyncio.Event()
        self._answer = asyncio.Event()
        self.answered_at: float | None = None  # when the held call's answer was sent

    def hold_next(self) -> None:
        self._hold = True

    async def wait_held(self, *, within: float) -> None:
        async with asyncio.timeout(within):
            await self._held.wait()

    def answer(self) -> None:
        self._answer.set()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/tick", self._tick)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        port = free_ports(1)[0]
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield f"http://127.0.0.1:{port}/tick"
        finally:
            self._answer.set()
            await runner.cleanup()

    async def _tick(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if self._hold:
            self._hold = False
            self._held.set()
            await self._answer.wait()
            response = web.Response(text="ok")
            await response.prepare(request)
            await response.write_eof()
            self.answered_at = time.monotonic()
            return response
        return web.Response(text="ok")


# --- the processes ----------------------------------------------------------------------------


async def leader_gauge(controller: Controller) -> float:
    """The process's `canary_leader` gauge, from its /metrics."""
    url = f"http://127.0.0.1:{controller.port}/metrics"
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith("canary_leader "):
            return float(line.split()[1])
    raise AssertionError(f"no canary_leader in {url}")


async def wait_gauge(controller: Controller, value: float, *, within: float = 10) -> None:
    await eventually(
        partial(leader_gauge, controller),
        until=lambda seen: seen == value,
        within=within,
        what=f"canary_leader of pid {controller.pid} at {value:g}",
    )


async def exit_status(controller: Controller, *, within: float) -> int:
    async def status() -> int | None:
        return controller.process.poll()

    code = await eventually(
        status,
        until=lambda seen: seen is not None,
        within=within,
        what=f"pid {controller.pid} exited",
    )
    assert code is not None
    return code


@dataclass
class Pair:
    """Two replicas, each behind its own recording proxy, and which of them leads."""

    leader: Controller
    standby: Controller
    proxies: dict[int, RecordingProxy]

    def proxy(self, controller: Controller) -> RecordingProxy:
        return self.proxies[controller.pid]


@contextlib.asynccontextmanager
async def two_replicas(
    controllers: Controllers, lease: LeaseWatch, *, directory: Path
) -> AsyncIterator[Pair]:
    """Start two replicas; once one holds the Lease, check that exactly that one acts. The
    processes are stopped before their proxies close."""
    first_proxy = RecordingProxy(controllers.sandbox, directory / "a")
    second_proxy = RecordingProxy(controllers.sandbox, directory / "b")
    async with first_proxy.running() as first_config, second_proxy.running() as second_config:
        rules = election(controllers.namespace)
        first = await controllers.start(leader_election=rules, kubeconfig=first_config)
        try:
            second = await controllers.start(leader_election=rules, kubeconfig=second_config)
            try:
                await lease.wait(lambda v: v.pid is not None, within=30, what="a Lease holder")
                holder = lease.history.last
                assert holder is not None
                assert holder.pid in {first.pid, second.pid}, f"{holder}: not {first}, {second}"
                leader, standby = (first, second) if holder.pid == first.pid else (second, first)
                await wait_gauge(leader, 1.0)
                await wait_gauge(standby, 0.0)
                yield Pair(leader, standby, {first.pid: first_proxy, second.pid: second_proxy})
            finally:
                await second.stop()
        finally:
            await first.stop()


def other_writes(
    proxy: RecordingProxy, *, since: float = float("-inf"), until: float = float("inf")
) -> list[str]:
    """The writes through `proxy` between `since` and `until`, other than to a Lease."""
    return [
        f"{r.method} {r.path}"
        for r in proxy.writes(since=since)
        if r.at < until and "/leases" not in r.path
    ]


async def start_release(
    api: ApiClient, namespace: str, recorder: Recorder, *, rollout_hook: str = ""
) -> float:
    """Create the Deployment and its Canary (with a rollout webhook, called every tick, when
    given its URL), wait for Initialized, release 6.7.1; when it was released."""
    manifest = canary(
        NAME, namespace=namespace, interval=f"{INTERVAL:g}s", threshold=3, step_weights=STEPS
    )
    if rollout_hook:
        hook = {"name": "tick", "type": "rollout", "url": rollout_hook, "timeout": "2s"}
        manifest["spec"]["analysis"]["webhooks"] = [hook]
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(api, manifest)
    await recorder.wait(
        lambda: recorder.phases[-1:] == ["Initialized"], within=30, what="phase Initialized"
    )
    released = time.monotonic()
    await set_template(api, NAME, namespace=namespace, tag="6.7.1")
    return released


async def finish_release(
    api: ApiClient, namespace: str, recorder: Recorder, *, since: float
) -> None:
    """The release ends Succeeded with every step once, in order, never faster than interval."""
    outcome = await recorder.outcome(since=since, within=120)
    assert outcome.phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, *STEPS, 0], recorder.describe()
    steps = [s for s in recorder.weights.samples if s.at >= since and s.value[1] > 0]
    gaps = [round(later.at - earlier.at, 2) for earlier, later in pairwise(steps)]
    assert min(gaps) >= INTERVAL - JITTER, f"steps {gaps} s apart; interval {INTERVAL:g} s"
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"


# --- the tests --------------------------------------------------------------------------------


async def test_the_standby_finishes_a_release_after_kill_9_of_the_leader(
    api: ApiClient, namespace: str, controllers: Controllers, tmp_path: Path
) -> None:
    async with (
        LeaseWatch(api, namespace=namespace).running() as lease,
        two_replicas(controllers, lease, directory=tmp_path) as pair,
        Recorder(api, namespace=namespace, name=NAME).running() as recorder,
    ):
        released = await start_release(api, namespace, recorder)
        await recorder.wait(lambda: 20 in recorder.canary_weights, within=60, what="weight 20")
        assert pair.leader.kill() == -signal.SIGKILL
        killed = time.monotonic()
        assert 30 not in recorder.canary_weights, "the kill came too late to be mid-release"
        last_renewal = max(lease.held_by(pair.leader.pid))
        taken = await lease.wait(
            lambda v: v.pid == pair.standby.pid, within=LEASE_DURATION * 3, what="the takeover"
        )
        await finish_release(api, namespace, recorder, since=released)

    # The standby waited for the dead leader's lease to expire, and not much longer.
    # (It may see the last renewal, and try again, up to a jittered retry period late.)
    assert taken - last_renewal >= LEASE_DURATION - LATENCY
    assert taken - killed <= LEASE_DURATION + 2 * 1.2 * RETRY_PERIOD + LATENCY
    # The steps after the kill were the standby's, the last three of the release.
    after = [s.value[1] for s in recorder.weights.samples if s.at > killed and s.value[1] > 0]
    assert after == [30, 40, 50], recorder.describe()
    # While it waited, the standby wrote nothing but (attempts on) the Lease.
    standby = pair.proxy(pair.standby)
    assert other_writes(standby, until=taken - LATENCY) == []
    assert other_writes(standby, since=taken - LATENCY), "the standby never acted"
    assert other_writes(pair.proxy(pair.leader), until=released), "the leader never acted"


async def test_a_paused_leader_writes_nothing_once_resumed_and_exits(
    api: ApiClient, namespace: str, controllers: Controllers, tmp_path: Path
) -> None:
    """The regression test of argo-rollouts#2117. The leader is paused in the middle of a
    cycle: its rollout webhook has been called and not yet answered. The answer is sent while
    it is paused, so when it resumes, that cycle goes on at once (an event loop runs ready I/O
    before overdue timers), possibly before the task that renews the Lease notices that the
    renew deadline has passed. Then only the gate evaluated against the clock at each write
    keeps it from writing; otherwise that task cancels it first. Which one wins depends on the
    event loop's order, so the test asserts the outcome: no write after the resume. (The gate
    alone is tested deterministically in tests/unit/controller/test_leader.py.)"""
    hooks = HeldHook()
    async with (
        hooks.running() as hook_url,
        LeaseWatch(api, namespace=namespace).running() as lease,
        two_replicas(controllers, lease, directory=tmp_path) as pair,
        Recorder(api, namespace=namespace, name=NAME).running() as recorder,
    ):
        released = await start_release(api, namespace, recorder, rollout_hook=hook_url)
        await recorder.wait(lambda: 10 in recorder.canary_weights, within=60, what="weight 10")
        paused = pair.leader
        hooks.hold_next()
        await hooks.wait_held(within=INTERVAL * 3)
        os.kill(paused.pid, signal.SIGSTOP)
        try:
            hooks.answer()  # the answer waits in the paused process's socket
            await lease.wait(
                lambda v: v.pid == pair.standby.pid, within=LEASE_DURATION * 3, what="the takeover"
            )
            # The standby acts: a step of its own.
            steps = len(recorder.weights.samples)
            await recorder.wait(
                lambda: len(recorder.weights.samples) > steps,
                within=30,
                what="a step by the standby",
            )
            resumed = time.monotonic()  # before SIGCONT: anything later was sent after it
        finally:
            os.kill(paused.pid, signal.SIGCONT)
        code = await exit_status(paused, within=RENEW_DEADLINE + 10)
        late_writes = [f"{r.method} {r.path}" for r in pair.proxy(paused).writes(since=resumed)]
        await finish_release(api, namespace, recorder, since=released)

    assert hooks.answered_at is not None
    assert hooks.answered_at < resumed, "the held webhook call was not answered during the pause"
    assert late_writes == [], f"the deposed leader wrote after it resumed: {late_writes}"
    assert code == 1, paused.tail()
    assert '"event": "leader_lost"' in paused.log.read_text()
    assert [v.pid for v in lease.history.values if v.pid is not None][-1] == pair.standby.pid


async def test_sigterm_releases_the_lease_so_the_standby_takes_over_at_once(
    api: ApiClient, namespace: str, controllers: Controllers, tmp_path: Path
) -> None:
    async with (
        LeaseWatch(api, namespace=namespace).running() as lease,
        two_replicas(controllers, lease, directory=tmp_path) as pair,
    ):
        # Wait for a renewal, so that the lease the leader gives up is a live one.
        first_seen = lease.history.samples[-1].at
        await lease.wait(
            lambda v: v.pid == pair.leader.pid and lease.held_by(pair.leader.pid)[-1] > first_seen,
            within=RETRY_PERIOD * 5,
            what="a renewal",
        )
        stopping = time.monotonic()
        pair.leader.process.terminate()
        released = await lease.wait(lambda v: v.holder == "", within=10, what="the release")
        taken = await lease.wait(
            lambda v: v.pid == pair.standby.pid, within=LEASE_DURATION * 2, what="the takeover"
        )
        code = await exit_status(pair.leader, within=10)
        await wait_gauge(pair.standby, 1.0)
        new = lease.history.last
        versions = lease.history.values

    assert code == 0, pair.leader.tail()
    held = _before_release(versions)
    assert held.pid == pair.leader.pid
    assert new is not None
    assert new.acquired is not None
    assert held.renewed is not None
    # By the Lease's own timestamps (one machine, one clock): taken before the old lease ended.
    old_expiry = held.renewed + timedelta(seconds=held.duration)
    assert new.acquired < old_expiry, f"acquired {new.acquired}, the old lease ran to {old_expiry}"
    # By the test's monotonic clock: within about one retry period of the release.
    assert released - stopping <= LATENCY * 2
    assert taken - released <= 1.2 * RETRY_PERIOD + LATENCY, f"{taken - released:.2f} s"
