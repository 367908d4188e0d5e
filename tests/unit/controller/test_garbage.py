"""Scheduled full collections: at a quiet moment, survivors frozen, nothing leaked, pauses timed."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from canary.controller import garbage
from canary.controller.garbage import GarbageCollector, collect_and_freeze


class Node:
    """An object that can take part in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def _full(figure: str) -> float:
    """`canary_gc_pause_seconds_<figure>` of the full collections."""
    value = REGISTRY.get_sample_value(f"canary_gc_pause_seconds_{figure}", {"generation": "2"})
    return value or 0.0


def test_survivors_are_frozen_and_their_garbage_cycles_found_by_the_next_collection() -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first
    alive = weakref.ref(first)
    collect_and_freeze()
    assert gc.get_freeze_count() > 0
    del first, second  # a garbage cycle among frozen objects
    gc.collect()
    assert alive() is not None, "an automatic collection must not walk the frozen objects"
    freed, seconds = collect_and_freeze()
    assert alive() is None, "the next scheduled collection unfreezes and frees it"
    assert freed >= 2
    assert seconds >= 0.0


def test_every_collection_is_timed_by_generation() -> None:
    garbage.observe_pauses()
    garbage.observe_pauses()
    assert gc.callbacks.count(garbage._TIMER) == 1
    count, total = _full("count"), _full("sum")
    gc.collect()
    assert _full("count") == count + 1
    assert _full("sum") > total


async def test_it_waits_for_a_quiet_moment() -> None:
    quiet = 0.0
    looks = 0
    looked_thrice = asyncio.Event()

    def quiet_for() -> float:
        nonlocal looks
        looks += 1
        if looks >= 3:
            looked_thrice.set()
        return quiet

    collector = GarbageCollector(quiet_for, period=3600.0, quiet=0.5, patience=60.0)
    task = asyncio.create_task(collector.once())
    async with asyncio.timeout(10):
        await looked_thrice.wait()
    assert not task.done(), "collected while cycles were running"
    quiet = 1.0
    async with asyncio.timeout(10):
        await task
    assert collector.collections == 1
    assert gc.get_freeze_count() > 0


async def test_without_a_quiet_moment_it_collects_after_its_patience() -> None:
    collector = GarbageCollector(lambda: 0.0, period=3600.0, quiet=0.5, patience=0.3)
    async with asyncio.timeout(10):
        await collector.once()
    assert collector.collections == 1


async def test_run_collects_every_period_and_unfreezes_when_cancelled() -> None:
    collector = GarbageCollector(lambda: 10.0, period=0.05)
    task = asyncio.create_task(collector.run())
    async with asyncio.timeout(10):
        while True:  # polled: the collector announces nothing
            if collector.collections >= 2:
                break
            await asyncio.sleep(0.01)
    assert gc.get_freeze_count() > 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gc.get_freeze_count() == 0
