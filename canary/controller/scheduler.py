"""Per-canary scheduling: each Canary reconciles on its own clock, woken early by watch events.

Every known Canary has one task. The task sleeps until the delay its last cycle asked for runs
out, or until `wake` is called (a change to the Canary, its target or its primary), then runs one
cycle under a cluster-wide semaphore. A cycle that raises is logged and retried with capped,
jittered backoff: one broken Canary never stops the others. The `Failures` watcher, if any, is
told of every failure (with the count in a row) and of the success that ends a run of them, so
the Canary can show it (see canary.controller.failures). Wake-ups that arrive while a cycle
runs are kept, so a change is never missed, but many wake-ups coalesce into one cycle.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)

Key = tuple[str, str]  # (namespace, name)
Cycle = Callable[[Key], Awaitable[float]]  # returns seconds until the next cycle is wanted

MAX_BACKOFF = 60.0


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
        self, cycle: Cycle, *, max_parallel: int = 4, failures: Failures | None = None
    ) -> None:
        self._cycle = cycle
        self._failures = failures
        self._slots: dict[Key, _Slot] = {}
        self._limit = asyncio.Semaphore(max_parallel)

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
        while True:
            if delay is not None:
                try:
                    async with asyncio.timeout(delay):
                        await slot.wake.wait()
                except TimeoutError:
                    pass
            else:
                await slot.wake.wait()
            slot.wake.clear()
            error: Exception | None = None
            async with self._limit:
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
            if error is not None and self._failures is not None:
                # Outside the slot: showing a failure must not hold up other Canaries.
                await self._failures.failed(key, error, failures)
