"""The scheduler runs each Canary on its own clock, isolates failures, and never loses a wake-up."""

from __future__ import annotations

import asyncio
from collections import Counter

from canary.controller.scheduler import Key, Scheduler

A: Key = ("ns", "a")
B: Key = ("ns", "b")


async def test_a_failing_canary_does_not_stop_another() -> None:
    runs: Counter[Key] = Counter()
    b_ran_twice = asyncio.Event()

    async def cycle(key: Key) -> float:
        runs[key] += 1
        if key == A:
            raise RuntimeError("broken spec")
        if runs[key] >= 2:
            b_ran_twice.set()
        return 0.01

    scheduler = Scheduler(cycle)
    scheduler.wake(A)
    scheduler.wake(B)
    async with asyncio.timeout(10):
        await b_ran_twice.wait()
    await scheduler.stop()
    assert runs[A] >= 1
    assert runs[B] >= 2


async def test_wakeups_during_a_cycle_are_kept_and_coalesced() -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    second_done = asyncio.Event()
    runs = 0

    async def cycle(_key: Key) -> float:
        nonlocal runs
        runs += 1
        if runs == 1:
            started.set()
            await release.wait()
        else:
            second_done.set()
        return 3600.0  # only a wake-up can bring the next cycle

    scheduler = Scheduler(cycle)
    scheduler.wake(A)
    async with asyncio.timeout(10):
        await started.wait()
        for _ in range(5):
            scheduler.wake(A)  # arrive while the first cycle runs
        release.set()
        await second_done.wait()
    await scheduler.stop()
    assert runs == 2


async def test_retain_forgets_deleted_canaries() -> None:
    async def cycle(_key: Key) -> float:
        return 3600.0

    scheduler = Scheduler(cycle)
    scheduler.wake(A)
    scheduler.wake(B)
    scheduler.retain({B})
    assert scheduler.keys == {B}
    await scheduler.stop()
    assert scheduler.keys == set()


class _Watcher:
    """Records what the scheduler tells it, and wakes the Canary again (no backoff waits)."""

    def __init__(self) -> None:
        self.scheduler: Scheduler | None = None
        self.failed_counts: list[int] = []
        self.recoveries = 0
        self.recovered_event = asyncio.Event()

    async def failed(self, key: Key, error: BaseException, failures: int) -> None:
        assert str(error) == "forbidden"
        self.failed_counts.append(failures)
        assert self.scheduler is not None
        self.scheduler.wake(key)

    def recovered(self, key: Key) -> None:
        assert key == A
        self.recoveries += 1
        self.recovered_event.set()


async def test_failures_in_a_row_are_counted_and_their_end_is_told() -> None:
    runs = 0

    async def cycle(_key: Key) -> float:
        nonlocal runs
        runs += 1
        if runs <= 3:
            raise RuntimeError("forbidden")
        return 3600.0

    watcher = _Watcher()
    scheduler = Scheduler(cycle, failures=watcher)
    watcher.scheduler = scheduler
    scheduler.wake(A)
    async with asyncio.timeout(10):
        await watcher.recovered_event.wait()
    await scheduler.stop()
    assert watcher.failed_counts == [1, 2, 3]
    assert watcher.recoveries == 1
