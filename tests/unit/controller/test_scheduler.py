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
