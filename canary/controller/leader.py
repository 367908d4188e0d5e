"""Leader election: of several replicas of the controller, one acts and the others wait.

The rules are in `canary.core.election`; this is the loop that applies them, and the gate the
rest of the process asks before acting. A waiting replica runs its watches and fills its caches
(so it can take over at once) but no reconcile cycle: the cycles the scheduler starts wait in
`Leadership.guard` until this replica holds the Lease. The holder renews the Lease every retry
period; a renewal is a read and a write guarded by the resourceVersion read, so of two replicas
racing, one gets 409 and loses.

A holder that cannot renew within the renew deadline stops acting before any other replica can
take the Lease: the cycles in flight are cancelled, `acting()` turns False (so the fenced client,
`canary.kube.fence`, and the Reconciler refuse any further write), and `run` raises
`LeadershipLostError`, on which the process exits (as client-go's OnStoppedLeading does) to be
restarted clean. It never goes back to waiting: a restart is simpler to reason about than a
process that must forget everything it was doing. A replica that stops on SIGTERM releases the
Lease once its cycles have ended, so another takes over within a retry period rather than a
lease duration.

This module writes only the Lease, through its own client (so its renewals never queue behind
the controller's requests, and the fence never blocks them).
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Final, NoReturn, Protocol

import structlog
from prometheus_client import Gauge

from canary.controller.scheduler import Cycle, Key
from canary.controller.settings import Settings
from canary.core.election import (
    JITTER,
    LeaseRecord,
    Sighting,
    Timing,
    claim,
    may_claim,
    release,
    sight,
    still_leading,
)
from canary.kube.client import api_client
from canary.kube.errors import Conflict, KubeError
from canary.kube.lease import Lease, LeaseStore

log = structlog.get_logger(__name__)

LEADER: Final = Gauge(
    "canary_leader",
    "1 while this replica acts (holds the leader Lease, or runs without leader election), else 0.",
)
RELEASE_WITHIN: Final = 5.0  # seconds a release on shutdown may take before it is given up


class LeadershipLostError(Exception):
    """This replica held the Lease and may no longer act: the process must exit."""


class Store(Protocol):
    """Where the Lease is kept (`canary.kube.lease.LeaseStore`; a fake in the unit tests)."""

    async def read(self) -> Lease | None: ...
    async def create(self, record: LeaseRecord) -> Lease: ...
    async def replace(self, current: Lease, record: LeaseRecord) -> Lease: ...


def identity() -> str:
    """This process's name in the Lease: the pod (or host), the pid and a random suffix, so a
    restarted process with the same pid is never mistaken for its predecessor."""
    host = os.environ.get("POD_NAME") or socket.gethostname()
    return f"{host}_{os.getpid()}_{secrets.token_hex(3)}"


class Leadership:
    """Whether this replica may act, asked by everything that would act.

    `acting()` is computed from the monotonic clock each time it is asked (the start of the last
    successful renewal plus the renew deadline), so it turns False at the deadline even if the
    task that renews has not run since (the process was paused, the loop was blocked).
    """

    def __init__(self, *, renew_deadline: float, clock: Callable[[], float] = time.monotonic):
        self._renew_deadline = renew_deadline
        self._clock = clock
        self._renewed: float | None = None
        self._over = False
        self._leading = asyncio.Event()
        self._cycles: set[asyncio.Task[object]] = set()

    def acting(self) -> bool:
        return not self._over and still_leading(
            self._renewed, now=self._clock(), renew_deadline=self._renew_deadline
        )

    def deadline(self) -> float:
        """Until when (monotonic seconds) the last renewal lets this replica act; -inf before
        the Lease was first held."""
        return -float("inf") if self._renewed is None else self._renewed + self._renew_deadline

    def renewed(self, started: float) -> None:
        """A renewal (or the acquisition) that started at `started` succeeded."""
        if self._over:
            return
        self._renewed = started if self._renewed is None else max(self._renewed, started)
        if not self._leading.is_set():
            self._leading.set()
            LEADER.set(1)

    def stop(self) -> None:
        """Stop acting for good: cancel the cycles in flight; nothing acts from now on."""
        if self._over:
            return
        self._over = True
        LEADER.set(0)
        for task in list(self._cycles):
            task.cancel()

    def guard(self, cycle: Cycle) -> Cycle:
        """`cycle`, run only while this replica acts: it waits until the Lease is held, and is
        cancelled by `stop`."""

        async def guarded(key: Key) -> float:
            await self._leading.wait()
            task = asyncio.current_task()
            if task is None or not self.acting():
                await _forever()  # the Lease was lost: the process is on its way out
            self._cycles.add(task)
            try:
                return await cycle(key)
            finally:
                self._cycles.discard(task)

        return guarded


async def _forever() -> NoReturn:
    await asyncio.Event().wait()
    raise AssertionError("unreachable: nothing sets the event")


class Elector:
    """Acquires the Lease, then renews it until it cannot (see the module's docstring)."""

    def __init__(  # noqa: PLR0913 - keyword-only; clocks and sleep are injected for the tests
        self,
        store: Store,
        *,
        identity: str,
        timing: Timing,
        leadership: Leadership,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.store = store
        self.identity = identity
        self.timing = timing
        self.leadership = leadership
        self._clock = clock
        self._wall = wall
        self._sleep = sleep
        self._sighting: Sighting | None = None
        self._lease: Lease | None = None  # the Lease as this replica last wrote it

    async def run(self) -> NoReturn:
        """Wait for the Lease, hold it, and raise `LeadershipLostError` once it is lost."""
        log.info("leader_election_started", identity=self.identity)
        await self.acquire()
        log.info("leader_acquired", identity=self.identity)
        await self.hold()

    async def acquire(self) -> None:
        """Return once this replica holds the Lease."""
        holder = None
        while True:
            started = self._clock()
            try:
                async with asyncio.timeout(self.timing.renew_deadline):
                    if await self._try_acquire():
                        self.leadership.renewed(started)
                        return
            except (KubeError, TimeoutError) as error:
                log.warning("leader_election_failed", error=str(error) or type(error).__name__)
            if self._sighting is not None and self._sighting.record.holder != holder:
                holder = self._sighting.record.holder
                log.info("leader_waiting", identity=self.identity, holder=holder or None)
            await self._sleep(self.timing.retry_period * random.uniform(1.0, JITTER))  # noqa: S311

    async def hold(self) -> NoReturn:
        """Renew every retry period; stop and raise once the renew deadline has passed."""
        while True:
            await self._sleep(self.timing.retry_period)
            started = self._clock()
            if not self.leadership.acting():
                self._lose("the renew deadline passed without a renewal")
            try:
                async with asyncio.timeout(max(0.0, self.leadership.deadline() - started)):
                    renewed = await self._try_renew()
            except TimeoutError:
                self._lose("the renew deadline passed during a renewal")
            except KubeError as error:
                log.warning("leader_renew_failed", error=str(error))
                renewed = False
            if renewed:
                self.leadership.renewed(started)

    async def release(self) -> None:
        """Give the Lease up (after this replica has stopped acting), if it still holds it."""
        lease = self._lease
        if lease is None or lease.record.holder != self.identity:
            return
        if self._clock() > self.leadership.deadline():
            return  # another replica may hold it by now; its expiry will free it anyway
        try:
            async with asyncio.timeout(RELEASE_WITHIN):
                self._lease = await self.store.replace(
                    lease, release(lease.record, at=self._wall())
                )
        except (KubeError, TimeoutError) as error:
            log.warning("leader_release_failed", error=str(error) or type(error).__name__)
            return
        log.info("leader_released", identity=self.identity)

    def _lose(self, why: str) -> NoReturn:
        self.leadership.stop()
        log.error("leader_lost", identity=self.identity, reason=why)
        raise LeadershipLostError(why)

    async def _try_acquire(self) -> bool:
        """One attempt to take the Lease: False when another replica holds it (or won a race)."""
        current = await self.store.read()
        record = claim(
            current.record if current else None,
            identity=self.identity,
            duration=self.timing.duration_seconds,
            at=self._wall(),
        )
        try:
            if current is None:
                self._written(await self.store.create(record))
                return True
            self._sighting = sight(
                self._sighting, current.record, current.version, now=self._clock()
            )
            if not may_claim(self._sighting, identity=self.identity, now=self._clock()):
                return False
            self._written(await self.store.replace(current, record))
        except Conflict:
            log.info("leader_election_race_lost", identity=self.identity)
            return False
        return True

    async def _try_renew(self) -> bool:
        """One renewal; `LeadershipLostError` when another replica holds the Lease now."""
        current = await self.store.read()
        if current is None:  # deleted under us: nobody else holds it, so claim it again
            if not self.leadership.acting():
                self._lose("the renew deadline passed during a renewal")
            self._written(await self.store.create(self._claim(None)))
            return True
        if current.record.holder != self.identity:
            self._lose(f"the Lease is held by {current.record.holder or 'nobody'}")
        if not self.leadership.acting():  # the read may have outlived the deadline
            self._lose("the renew deadline passed during a renewal")
        try:
            self._written(await self.store.replace(current, self._claim(current.record)))
        except Conflict:
            return False  # changed meanwhile: the next read says by whom
        return True

    def _claim(self, current: LeaseRecord | None) -> LeaseRecord:
        return claim(
            current,
            identity=self.identity,
            duration=self.timing.duration_seconds,
            at=self._wall(),
        )

    def _written(self, lease: Lease) -> None:
        self._lease = lease
        self._sighting = sight(self._sighting, lease.record, lease.version, now=self._clock())


class Election(Protocol):
    """What the process needs of leader election, whether it is on or off."""

    def acting(self) -> bool: ...
    def guard(self, cycle: Cycle) -> Cycle: ...
    async def run(self) -> None: ...
    async def step_down(self) -> None: ...


class _Alone:
    """No leader election: this process always acts."""

    def acting(self) -> bool:
        return True

    def guard(self, cycle: Cycle) -> Cycle:
        return cycle

    async def run(self) -> None:
        LEADER.set(1)

    async def step_down(self) -> None:
        LEADER.set(0)


class _Elected:
    def __init__(self, elector: Elector) -> None:
        self.elector = elector
        self.leadership = elector.leadership

    def acting(self) -> bool:
        return self.leadership.acting()

    def guard(self, cycle: Cycle) -> Cycle:
        return self.leadership.guard(cycle)

    async def run(self) -> None:
        await self.elector.run()

    async def step_down(self) -> None:
        """Stop acting, then release the Lease (call once every cycle has ended)."""
        held = self.leadership.acting()
        self.leadership.stop()
        if held:
            await self.elector.release()


@asynccontextmanager
async def election(settings: Settings) -> AsyncIterator[Election]:
    """Leader election as `settings` ask for it, with its own client for the Lease."""
    if not settings.leader_elect:
        yield _Alone()
        return
    timing = settings.leader_election_timing
    LEADER.set(0)
    async with api_client(settings.kubeconfig) as api:
        store = LeaseStore(
            api, namespace=settings.leader_election_namespace, name=settings.leader_election_id
        )
        leadership = Leadership(renew_deadline=timing.renew_deadline)
        name = identity()
        structlog.contextvars.bind_contextvars(identity=name)
        yield _Elected(Elector(store, identity=name, timing=timing, leadership=leadership))
