"""The elector's loop and the leadership gate, on a fake clock and an in-memory Lease.

The fake `sleep` advances the fake monotonic clock, so minutes of leader election run in
milliseconds; the store keeps a resourceVersion and answers a stale write with `Conflict`, as
the API server does. Assertions are on the Lease's history and on what the gate allowed."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from canary.controller.leader import LEADER, Elector, Leadership, LeadershipLostError
from canary.controller.reconcile import Reconciler
from canary.controller.settings import Settings, add_arguments, from_arguments
from canary.core.election import LeaseRecord, Timing
from canary.kube.errors import Conflict, Transient
from canary.kube.fence import FencedApiClient, WriteRefusedError
from canary.kube.lease import Lease
from canary.kube.resources import LEASE, create, get

TIMING = Timing(lease_duration=15, renew_deadline=10, retry_period=2)
ME = "a_1_aaaaaa"
OTHER = "b_2_bbbbbb"
WALL = datetime(2026, 1, 1, tzinfo=UTC)


class StopError(Exception):
    """The fake clock ran past the end of the test."""


@dataclass
class Clock:
    now: float = 1000.0
    until: float = 1000.0 + 600  # a loop that never ends fails the test instead of hanging it

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.now > self.until:
            raise StopError
        await asyncio.sleep(0)

    def wall(self) -> datetime:
        return WALL + timedelta(seconds=self.now)


@dataclass
class FakeStore:
    """One Lease with a resourceVersion; `writes` holds (clock time, record) of every write."""

    clock: Clock
    lease: Lease | None = None
    writes: list[tuple[float, LeaseRecord]] = field(default_factory=list)
    before_read: Callable[[], None] = lambda: None
    failing: bool = False  # every request fails as if the API server were unreachable
    _version: int = 0

    def put(self, record: LeaseRecord) -> Lease:
        self._version += 1
        self.lease = Lease(record=record, version=str(self._version), manifest={})
        return self.lease

    def _check(self) -> None:
        if self.failing:
            raise Transient("connection refused")

    async def read(self) -> Lease | None:
        self._check()
        self.before_read()
        return self.lease

    async def create(self, record: LeaseRecord) -> Lease:
        self._check()
        if self.lease is not None:
            raise Conflict("already exists")
        self.writes.append((self.clock.now, record))
        return self.put(record)

    async def replace(self, current: Lease, record: LeaseRecord) -> Lease:
        self._check()
        if self.lease is None or self.lease.version != current.version:
            raise Conflict("the object has been modified")
        self.writes.append((self.clock.now, record))
        return self.put(record)


def held_by(holder: str, *, renewed: datetime = WALL) -> LeaseRecord:
    return LeaseRecord(holder=holder, duration=15, acquired=WALL, renewed=renewed, transitions=2)


def elector(store: FakeStore, *, identity: str = ME) -> Elector:
    clock = store.clock
    return Elector(
        store,
        identity=identity,
        timing=TIMING,
        leadership=Leadership(renew_deadline=TIMING.renew_deadline, clock=clock),
        clock=clock,
        wall=clock.wall,
        sleep=clock.sleep,
    )


async def test_a_free_lease_is_taken_at_once() -> None:
    store = FakeStore(Clock())
    candidate = elector(store)
    await candidate.acquire()
    assert candidate.leadership.acting()
    assert LEADER._value.get() == 1
    assert store.lease is not None
    assert store.lease.record.holder == ME
    assert store.lease.record.duration == 15
    assert store.lease.record.transitions == 0


@pytest.mark.parametrize("renewed", [WALL - timedelta(days=1), WALL + timedelta(days=1)])
async def test_a_dead_holders_lease_is_taken_a_lease_duration_after_it_last_changed(
    renewed: datetime,
) -> None:
    """However far the holder's clock is off: expiry is timed from the local sighting."""
    clock = Clock()
    store = FakeStore(clock)
    store.put(held_by(OTHER, renewed=renewed))
    first_seen = clock.now
    candidate = elector(store)
    await candidate.acquire()
    assert store.lease is not None
    assert store.lease.record.holder == ME
    assert store.lease.record.transitions == 3
    taken = store.writes[0][0]
    assert first_seen + 15 <= taken <= first_seen + 15 + 1.2 * TIMING.retry_period


async def test_a_lease_that_keeps_being_renewed_is_never_taken() -> None:
    clock = Clock(until=1000.0 + 120)
    store = FakeStore(clock)
    store.put(held_by(OTHER))

    def the_holder_renews() -> None:
        assert store.lease is not None
        store.put(replace(store.lease.record, renewed=clock.wall()))

    store.before_read = the_holder_renews
    candidate = elector(store)
    with pytest.raises(StopError):
        await candidate.acquire()
    assert not candidate.leadership.acting()
    assert store.writes == []


async def test_losing_the_race_for_an_expired_lease_is_not_winning_it() -> None:
    """Another replica writes between this one's read and its write: 409, keep waiting."""
    clock = Clock(until=1000.0 + 40)
    store = FakeStore(clock)
    store.put(held_by(OTHER))
    candidate = elector(store)
    rival = "c_3_cccccc"

    def a_rival_takes_it_once_expired_then_renews() -> None:
        assert store.lease is not None
        holder = store.lease.record.holder
        if (holder == OTHER and clock.now >= 1015) or holder == rival:
            store.put(replace(store.lease.record, holder=rival, renewed=clock.wall()))

    original_read = store.read

    async def read_then_rival() -> Lease | None:
        lease = await original_read()
        a_rival_takes_it_once_expired_then_renews()  # after this replica's read: it is stale
        return lease

    store.read = read_then_rival  # type: ignore[method-assign]
    with pytest.raises(StopError):
        await candidate.acquire()
    assert store.lease is not None
    assert store.lease.record.holder == rival
    assert not candidate.leadership.acting()
    assert store.writes == []


async def test_the_holder_renews_every_retry_period() -> None:
    clock = Clock(until=1000.0 + 30)
    store = FakeStore(clock)
    candidate = elector(store)
    await candidate.acquire()
    with pytest.raises(StopError):
        await candidate.hold()
    times = [at - 1000.0 for at, _ in store.writes]
    assert times == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30][: len(times)]
    assert len(times) >= 15
    assert {record.acquired for _, record in store.writes} == {WALL + timedelta(seconds=1000)}
    assert candidate.leadership.acting()


async def test_a_holder_that_cannot_renew_stops_at_the_renew_deadline() -> None:
    clock = Clock()
    store = FakeStore(clock)
    candidate = elector(store)
    await candidate.acquire()
    acquired = clock.now
    running = asyncio.create_task(asyncio.Event().wait())
    candidate.leadership._cycles.add(running)
    store.failing = True
    with pytest.raises(LeadershipLostError, match="renew deadline"):
        await candidate.hold()
    assert clock.now <= acquired + TIMING.renew_deadline + TIMING.retry_period
    assert not candidate.leadership.acting()
    assert LEADER._value.get() == 0
    with pytest.raises(asyncio.CancelledError):  # a cycle still in flight would time out here
        async with asyncio.timeout(5):
            await running


async def test_a_renewal_slower_than_the_deadline_writes_nothing() -> None:
    """The read returns after the deadline (the process was paused): no write follows it."""
    clock = Clock()
    store = FakeStore(clock)
    candidate = elector(store)
    await candidate.acquire()
    writes = len(store.writes)

    def paused() -> None:
        clock.now += 60

    store.before_read = paused
    with pytest.raises(LeadershipLostError):
        await candidate.hold()
    assert len(store.writes) == writes


async def test_after_a_pause_past_the_deadline_the_holder_stops_without_a_write() -> None:
    """SIGSTOP, then SIGCONT: the first thing the loop does is notice, not renew."""
    clock = Clock()
    store = FakeStore(clock)
    candidate = elector(store)
    await candidate.acquire()
    writes = len(store.writes)
    original_sleep = clock.sleep

    async def stopped(seconds: float) -> None:
        await original_sleep(seconds + 30)

    candidate._sleep = stopped
    with pytest.raises(LeadershipLostError, match="renew deadline passed without a renewal"):
        await candidate.hold()
    assert len(store.writes) == writes
    assert not candidate.leadership.acting()


async def test_a_holder_that_sees_another_holder_stops_at_once() -> None:
    clock = Clock()
    store = FakeStore(clock)
    candidate = elector(store)
    await candidate.acquire()
    store.put(held_by(OTHER))
    with pytest.raises(LeadershipLostError, match=f"held by {OTHER}"):
        await candidate.hold()
    assert clock.now <= 1000.0 + TIMING.retry_period
    assert not candidate.leadership.acting()


async def test_a_released_lease_is_taken_on_the_next_try_not_after_expiry() -> None:
    clock = Clock()
    store = FakeStore(clock)
    first = elector(store)
    await first.acquire()
    holding = asyncio.create_task(first.hold())
    second = elector(store, identity=OTHER)
    waiting = asyncio.create_task(second.acquire())
    async with asyncio.timeout(5):
        while True:
            await asyncio.sleep(0.001)
            if clock.now > 1000.0 + 3 * TIMING.lease_duration:  # long past any expiry
                break
    assert not waiting.done()
    holding.cancel()  # SIGTERM: the process's tasks end, then it steps down
    first.leadership.stop()
    released_at = clock.now
    await first.release()
    assert store.lease is not None
    assert store.lease.record.holder == ""
    async with asyncio.timeout(5):
        await waiting
    assert store.lease.record.holder == OTHER
    assert clock.now - released_at <= 1.2 * TIMING.retry_period


async def test_no_release_once_the_deadline_passed() -> None:
    """Past its deadline the replica may no longer be the holder: it must not write at all."""
    clock = Clock()
    store = FakeStore(clock)
    candidate = elector(store)
    await candidate.acquire()
    writes = len(store.writes)
    clock.now += TIMING.renew_deadline + 1
    candidate.leadership.stop()
    await candidate.release()
    assert len(store.writes) == writes


async def _let_tasks_run() -> None:
    """Give every ready task its turns (no clock involved): a guarded cycle that were not held
    back would have started within them."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_cycles_wait_for_the_lease_and_are_cancelled_when_it_is_lost() -> None:
    clock = Clock()
    leadership = Leadership(renew_deadline=10, clock=clock)
    ran: list[str] = []
    started = asyncio.Event()

    async def cycle(key: tuple[str, str]) -> float:
        ran.append(key[1])
        started.set()
        await asyncio.Event().wait()
        return 1.0

    first = asyncio.ensure_future(leadership.guard(cycle)(("ns", "a")))
    await _let_tasks_run()
    assert ran == [], "a cycle ran before the Lease was held"
    leadership.renewed(clock.now)
    async with asyncio.timeout(5):
        await started.wait()
    assert ran == ["a"]
    leadership.stop()
    with pytest.raises(asyncio.CancelledError):
        await first
    late = asyncio.ensure_future(leadership.guard(cycle)(("ns", "b")))
    await _let_tasks_run()
    assert ran == ["a"], "a cycle ran after the Lease was lost"
    late.cancel()


async def test_the_gate_closes_at_the_deadline_without_any_task_running() -> None:
    clock = Clock()
    leadership = Leadership(renew_deadline=10, clock=clock)
    assert not leadership.acting()
    leadership.renewed(clock.now)
    clock.now += 10
    assert leadership.acting()
    clock.now += 0.001
    assert not leadership.acting()


async def test_the_fenced_client_refuses_writes_but_lets_reads_through() -> None:
    from kubernetes_asyncio.client import Configuration  # noqa: PLC0415 - tests may

    allowed = False
    configuration = Configuration(host="http://127.0.0.1:9")  # nothing listens: reads fail
    manifest: dict[str, Any] = {
        "apiVersion": LEASE.api_version,
        "kind": LEASE.kind,
        "metadata": {"name": "x", "namespace": "ns"},
    }
    async with FencedApiClient(configuration, may_write=lambda: allowed) as api:
        with pytest.raises(WriteRefusedError, match=r"POST \S*/leases: not sent"):
            await create(api, manifest)
        with pytest.raises(Transient):  # sent (and refused by the network, not the fence)
            await get(api, LEASE, "x", namespace="ns")
        allowed = True
        with pytest.raises(Transient):
            await create(api, manifest)


async def test_writes_are_refused_the_moment_the_deadline_passes_before_any_task_notices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process resumed after a pause: a cycle may run before the elector's loop does. The
    gate is the clock at the moment of the write, for the client and the Reconciler alike."""
    from kubernetes_asyncio.client import Configuration  # noqa: PLC0415 - tests may

    clock = Clock()
    leadership = Leadership(renew_deadline=10, clock=clock)
    leadership.renewed(clock.now)
    settings = settings_of([], monkeypatch)
    async with FencedApiClient(
        Configuration(host="http://127.0.0.1:9"), may_write=leadership.acting
    ) as api:
        reconciler = Reconciler(api, settings, may_act=leadership.acting)
        manifest: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": "ns"},
        }
        with pytest.raises(Transient):  # allowed: sent, and refused by the network
            await create(api, manifest)
        reconciler._ensure_acting()
        clock.now += 10.001  # paused past the deadline; no task has run since
        with pytest.raises(WriteRefusedError):
            await create(api, manifest)
        with pytest.raises(LeadershipLostError):
            reconciler._ensure_acting()
        await reconciler.hooks.close()
        await reconciler.alerts.close()
        reconciler.prometheus.close()


def settings_of(argv: list[str], monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for variable in ("CANARY_LEADER_ELECT", "CANARY_LEADER_ELECTION_NAMESPACE", "POD_NAMESPACE"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in env.items():
        monkeypatch.setenv(variable, value)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_arguments(parser.parse_args(argv))


def test_leader_election_is_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_of([], monkeypatch)
    assert not settings.leader_elect
    assert settings.leader_election_namespace == "default"
    assert settings.leader_election_id == "canary-controller"
    assert settings.leader_election_timing == Timing()


def test_leader_election_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--leader-elect", "--leader-election-id=lease", "--leader-election-retry-period=1"]
    settings = settings_of(argv, monkeypatch, POD_NAMESPACE="canary-system")
    assert settings.leader_elect
    assert settings.leader_election_namespace == "canary-system"
    assert settings.leader_election_id == "lease"
    assert settings.leader_election_timing == Timing(retry_period=1)


def test_unsafe_leader_election_timing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["--leader-elect", "--leader-election-renew-deadline=20"]
    with pytest.raises(SystemExit, match="must be longer than the renew deadline"):
        settings_of(argv, monkeypatch)
