"""Per-canary scheduling: each Canary reconciles on its own clock, woken early by watch events.

Every known Canary has one task. The task sleeps until the delay its last cycle asked for runs
out, or until `wake` is called (a change to the Canary, its target or its primary), then runs one
cycle holding one of `--max-parallel` slots. A cycle that raises is logged and retried with
capped, jittered backoff: one broken Canary never stops the others. The `Failures` watcher, if
any, is told of every failure (with the count in a row) and of the success that ends a run of
them, so the Canary can show it (see canary.controller.failures). Wake-ups that arrive while a
cycle runs are kept, so a change is never missed, but many wake-ups coalesce into one cycle;
those that arrive while the cycle still waits for its slot are seen by that cycle.

The slots bound the cycles working against the Kubernetes API at once. They are not held while
a cycle waits on a system outside the cluster (its webhooks, its metrics server, its alert
receivers): the cycle wraps those waits in `outside_limit()`, which gives the slot back and
takes one again afterwards. A Canary whose webhooks hang for minutes therefore delays nobody
else's cycle; only its own. Nor does a cycle keep a slot for longer than `hold_limit` seconds
(5 by default) in one go: one whose API requests are slow (a team's admission webhook that
takes its time on every write) loses its slot after that and goes on without one, so it delays
the others by at most that much, and only when all slots are taken by such cycles. Cycles that
work normally need a small fraction of a second. And a cycle whose status is written gives its
slot back for good (`leave_limit`): its events and notifications only announce what it decided.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

Key = tuple[str, str]  # (namespace, name)
Cycle = Callable[[Key], Awaitable[float]]  # returns seconds until the next cycle is wanted

MAX_BACKOFF = 60.0
SLOT_HOLD_LIMIT = 5.0  # seconds a cycle may keep a slot of --max-parallel in one go


@dataclass
class _Permit:
    """One scheduling task's claim on a slot of `--max-parallel`."""

    limit: asyncio.Semaphore
    hold_limit: float = SLOT_HOLD_LIMIT
    held: bool = False
    _expiry: asyncio.TimerHandle | None = None

    async def take(self) -> None:
        await self.limit.acquire()
        self.held = True
        self._expiry = asyncio.get_running_loop().call_later(self.hold_limit, self.give_back)

    def give_back(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self.held:
            self.held = False
            self.limit.release()


# The permit of the cycle running in this task (each Canary's task sets its own).
_PERMIT: ContextVar[_Permit | None] = ContextVar("canary_cycle_permit", default=None)


@contextlib.asynccontextmanager
async def outside_limit(*, needed: bool = True) -> AsyncIterator[None]:
    """Run the block without holding the cycle's slot: for waits on systems outside the
    cluster (webhooks, metric queries, alerts), which must not delay other Canaries. Giving the
    slot back costs a place in the queue for it, so a caller that knows the block has nothing
    to wait on says `needed=False`. Outside a scheduled cycle (tests, tools) it does nothing."""
    permit = _PERMIT.get()
    if not needed or permit is None or not permit.held:
        yield
        return
    permit.give_back()
    try:
        yield
    finally:
        await permit.take()


def leave_limit() -> None:
    """Give the cycle's slot back for the rest of the cycle, for good: what remains once its
    status is written (events, notifications) announces a decision already made and must not
    hold back other Canaries' decisions. Outside a scheduled cycle it does nothing."""
    permit = _PERMIT.get()
    if permit is not None:
        permit.give_back()


class Failures(Protocol):
    async def failed(self, key: Key, error: BaseException, failures: int) -> None:
        """Cycle number `failures` in a row of `key` raised `error` (must not raise)."""

    def recovered(self, key: Key) -> None:
        """A cycle of `key` succeeded after at least one failure."""


@dataclass
class _Slot:
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Scheduler:
    def __init__(
        self,
        cycle: Cycle,
        *,
        max_parallel: int = 4,
        failures: Failures | None = None,
        hold_limit: float = SLOT_HOLD_LIMIT,
    ) -> None:
        self._cycle = cycle
        self._failures = failures
        self._slots: dict[Key, _Slot] = {}
        self._limit = asyncio.Semaphore(max_parallel)
        self._hold_limit = hold_limit
        self._running = 0  # cycles under way
        self._last_end = time.monotonic()

    def quiet_for(self) -> float:
        """Seconds since the last cycle ended: 0 while one runs."""
        return 0.0 if self._running else time.monotonic() - self._last_end

    @property
    def keys(self) -> set[Key]:
        return set(self._slots)

    def wake(self, key: Key) -> None:
        """Run `key`'s cycle soon; start tracking it if it is new."""
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot()
            slot.task = asyncio.get_running_loop().create_task(
                self._loop(key, slot), name=f"canary {key[0]}/{key[1]}"
            )
        slot.wake.set()

    def forget(self, key: Key) -> None:
        """Stop scheduling `key` (its Canary was deleted)."""
        slot = self._slots.pop(key, None)
        if slot is not None and slot.task is not None:
            slot.task.cancel()

    def problem(self) -> str | None:
        """Why scheduling is broken, or None (for /healthz): a Canary's task ended although it
        is still scheduled (only `forget` and `stop` may end one), so it would never reconcile
        again."""
        dead = sorted(
            f"{namespace}/{name}"
            for (namespace, name), slot in self._slots.items()
            if slot.task is not None and slot.task.done()
        )
        return f"the scheduling task of {', '.join(dead)} ended" if dead else None

    def retain(self, keys: set[Key]) -> None:
        """After a relist: forget every key that no longer exists, wake every one that does."""
        for gone in self.keys - keys:
            self.forget(gone)
        for key in keys:
            self.wake(key)

    async def stop(self) -> None:
        tasks = [slot.task for slot in self._slots.values() if slot.task is not None]
        self._slots.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _loop(self, key: Key, slot: _Slot) -> None:
        failures = 0
        delay: float | None = None
        permit = _Permit(self._limit, self._hold_limit)
        _PERMIT.set(permit)  # this task's own context: seen by its cycles, no one else's
        while True:
            if delay is not None:
                try:
                    async with asyncio.timeout(delay):
                        await slot.wake.wait()
                except TimeoutError:
                    pass
            else:
                await slot.wake.wait()
            error: Exception | None = None
            await permit.take()
            # Cleared once the slot is held, not before: the cycle reads the cache after this,
            # so every wake-up that came while it waited for the slot is seen by this cycle
            # and needs no cycle of its own. In a burst (a hundred targets changed at once,
            # and kube-controller-manager's status updates of each one right after) that
            # spares a second cycle to each Canary that had to wait for a slot.
            slot.wake.clear()
            self._running += 1
            try:
                delay = max(0.0, await self._cycle(key))
                if failures and self._failures is not None:
                    self._failures.recovered(key)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as caught:
                error = caught
                failures += 1
                delay = min(MAX_BACKOFF, 0.5 * 2**failures) * random.uniform(0.75, 1.25)  # noqa: S311
                log.exception(
                    "reconcile_failed",
                    namespace=key[0],
                    canary=key[1],
                    retry_in=round(delay, 2),
                )
            finally:
                permit.give_back()
                self._running -= 1
                self._last_end = time.monotonic()
            if error is not None and self._failures is not None:
                # Outside the slot: showing a failure must not hold up other Canaries.
                await self._failures.failed(key, error, failures)
