"""/healthz's checks: the event loop monitor, the scheduler's tasks, and how failures read."""

from __future__ import annotations

import asyncio
import time
from functools import partial

import pytest
from prometheus_client import CollectorRegistry, Histogram

from canary.controller.scheduler import Key, Scheduler
from canary.telemetry.health import Health
from canary.telemetry.loop import LoopMonitor
from tests.integration.waiting import eventually


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _histogram() -> Histogram:
    return Histogram("lag_seconds", "lag", registry=CollectorRegistry())


def test_health_lists_every_failing_check_by_name() -> None:
    def broken() -> str | None:
        raise RuntimeError("boom")

    health = Health({"fine": lambda: None, "loop": lambda: "stuck"})
    assert health.problems() == ["loop: stuck"]
    health.add("broken", broken)
    assert health.problems() == ["broken: the check raised RuntimeError('boom')", "loop: stuck"]


def test_a_monitor_that_has_not_woken_for_too_long_reports_a_stuck_loop() -> None:
    clock = FakeClock()
    monitor = LoopMonitor(stale_after=10.0, clock=clock, histogram=_histogram())
    assert monitor.problem() is None  # not yet started: not reported as stale
    clock.now += 5
    monitor.beat(0.002)
    assert monitor.last_lag == pytest.approx(0.002)
    clock.now += 9.5
    assert monitor.problem() is None
    clock.now += 1.0
    assert monitor.problem() == "the event loop did not wake its monitor for 10.5 s"


async def _counts(histogram: Histogram) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in histogram.collect()
        for sample in family.samples
        if not sample.labels
    }


async def test_the_monitor_measures_a_blocked_loop() -> None:
    histogram = _histogram()
    monitor = LoopMonitor(period=0.01, histogram=histogram)
    task = asyncio.create_task(monitor.run())
    ticking = await eventually(
        partial(_counts, histogram), until=lambda c: c["lag_seconds_count"] >= 2
    )
    time.sleep(0.2)  # block the loop, as a synchronous call would  # noqa: ASYNC251
    await eventually(  # the monitor woke after the block, and measured it
        partial(_counts, histogram),
        until=lambda c: c["lag_seconds_count"] > ticking["lag_seconds_count"],
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    counts = await _counts(histogram)
    assert counts["lag_seconds_count"] >= 3
    assert counts["lag_seconds_sum"] >= 0.15  # the blocked stretch was measured
    assert monitor.problem() == "the event loop monitor stopped (cancelled)"


async def test_the_scheduler_reports_a_canary_task_that_ended() -> None:
    async def cycle(_key: Key) -> float:
        return 60.0

    scheduler = Scheduler(cycle)
    key: Key = ("shop", "web")
    scheduler.wake(key)
    await asyncio.sleep(0)
    assert scheduler.problem() is None
    task = next(t for t in asyncio.all_tasks() if t.get_name() == "canary shop/web")
    task.cancel()  # as if it had died: nothing but `forget` and `stop` may end it
    await asyncio.sleep(0)
    assert scheduler.problem() == "the scheduling task of shop/web ended"
    scheduler.forget(key)
    assert scheduler.problem() is None
    await scheduler.stop()
