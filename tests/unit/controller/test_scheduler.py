"""The scheduler runs each Canary on its own clock, isolates failures, and never loses a wake-up."""

from __future__ import annotations

import asyncio
from collections import Counter

from canary.controller.scheduler import Key, Scheduler, leave_limit, outside_limit

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


async def test_wakeups_while_waiting_for_a_slot_are_seen_by_the_cycle_that_gets_it() -> None:
    """A Canary woken again while its cycle waits for a slot (its target's status updated
    after the change that woke it) needs no second cycle: the one that gets the slot reads the
    cache afterwards and sees both."""
    a_inside = asyncio.Event()
    release = asyncio.Event()
    a_again = asyncio.Event()
    runs: Counter[Key] = Counter()
    b_runs_when_a_ran_again: list[int] = []

    async def cycle(key: Key) -> float:
        runs[key] += 1
        if key == A and runs[A] == 1:
            # B's task starts before this test resumes, and waits for the only slot
            scheduler.wake(B)
            a_inside.set()
            await release.wait()
        elif key == A:
            b_runs_when_a_ran_again.append(runs[B])
            a_again.set()
        else:
            # A's task is only woken here: a second cycle of B owed to the wake-ups below
            # would take the free slot first and be counted when A runs again
            scheduler.wake(A)
        return 3600.0  # only a wake-up can bring the next cycle

    scheduler = Scheduler(cycle, max_parallel=1)
    scheduler.wake(A)
    async with asyncio.timeout(10):
        await a_inside.wait()
        for _ in range(3):
            scheduler.wake(B)  # arrive while B waits for A's slot
        release.set()
        await a_again.wait()
    await scheduler.stop()
    assert b_runs_when_a_ran_again == [1]
    assert runs[B] == 1


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


async def test_a_cycle_waiting_outside_the_cluster_gives_its_slot_to_others() -> None:
    """With one slot, a Canary whose webhook hangs does not stop another's cycles."""
    hanging = asyncio.Event()
    never = asyncio.Event()
    b_ran_twice = asyncio.Event()
    runs: Counter[Key] = Counter()

    async def cycle(key: Key) -> float:
        runs[key] += 1
        if key == A:
            async with outside_limit():
                hanging.set()
                await never.wait()  # a webhook that never answers
        elif runs[key] >= 2:
            b_ran_twice.set()
        return 0.01

    scheduler = Scheduler(cycle, max_parallel=1)
    scheduler.wake(A)
    async with asyncio.timeout(10):
        await hanging.wait()
        scheduler.wake(B)
        await b_ran_twice.wait()
    assert runs[A] == 1  # still waiting on its webhook
    await scheduler.stop()


async def test_the_slots_still_bound_the_cycles_working_against_the_cluster() -> None:
    inside = asyncio.Event()
    release = asyncio.Event()
    b_ran = asyncio.Event()
    runs: Counter[Key] = Counter()

    async def cycle(key: Key) -> float:
        runs[key] += 1
        if key == A:
            inside.set()
            await release.wait()  # e.g. API calls: the slot stays taken
        else:
            b_ran.set()
        return 3600.0

    scheduler = Scheduler(cycle, max_parallel=1)
    scheduler.wake(A)
    async with asyncio.timeout(10):
        await inside.wait()
        scheduler.wake(B)
        for _ in range(50):  # let B's task run as far as it can
            await asyncio.sleep(0)
        assert runs[B] == 0
        release.set()
        await b_ran.wait()
    await scheduler.stop()


async def test_outside_a_scheduled_cycle_outside_limit_does_nothing() -> None:
    async with outside_limit():
        pass
    leave_limit()


async def test_a_cycle_that_left_the_limit_works_on_without_holding_its_slot() -> None:
    """With one slot (and no hold limit to speak of): A records its decision, leaves the limit,
    then announces it slowly; B runs meanwhile."""
    announcing = asyncio.Event()
    finish = asyncio.Event()
    b_ran = asyncio.Event()
    a_done = asyncio.Event()

    async def cycle(key: Key) -> float:
        if key == A:
            leave_limit()
            announcing.set()
            await finish.wait()  # e.g. its events' requests to a slow API server
            a_done.set()
        else:
            b_ran.set()
        return 3600.0

    scheduler = Scheduler(cycle, max_parallel=1, hold_limit=3600)
    scheduler.wake(A)
    async with asyncio.timeout(10):
        await announcing.wait()
        scheduler.wake(B)
        await b_ran.wait()  # A still announcing: its slot was free
        finish.set()
        await a_done.wait()
    await scheduler.stop()


async def test_a_cycle_slow_inside_the_cluster_loses_its_slot_after_the_hold_limit() -> None:
    """A Canary whose API requests crawl delays another by at most the hold limit."""
    inside = asyncio.Event()
    never = asyncio.Event()
    b_ran = asyncio.Event()

    async def cycle(key: Key) -> float:
        if key == A:
            inside.set()
            await never.wait()  # slow API requests, not wrapped in outside_limit
        else:
            b_ran.set()
        return 3600.0

    scheduler = Scheduler(cycle, max_parallel=1, hold_limit=0.05)
    scheduler.wake(A)
    async with asyncio.timeout(10):
        await inside.wait()
        scheduler.wake(B)
        await b_ran.wait()
    await scheduler.stop()


async def test_quiet_for_is_zero_while_a_cycle_runs_and_counts_from_its_end() -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def cycle(_key: Key) -> float:
        started.set()
        await release.wait()
        return 3600.0

    scheduler = Scheduler(cycle)
    scheduler.wake(A)
    async with asyncio.timeout(10):
        await started.wait()
        assert scheduler.quiet_for() == 0.0, "a cycle is under way"
        release.set()
        while True:  # polled: the cycle's task ends its turn after the cycle returns
            if scheduler.quiet_for() > 0.0:
                break
            await asyncio.sleep(0.001)
        first = scheduler.quiet_for()
        while True:  # polled: the quiet time grows with the clock, no event marks it
            if scheduler.quiet_for() > first:
                break
            await asyncio.sleep(0.001)
        assert scheduler.quiet_for() > first
    await scheduler.stop()
