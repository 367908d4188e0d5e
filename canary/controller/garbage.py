"""Python's cyclic garbage collector, kept out of the way of the controller's work.

The watches' caches hold every Canary, Deployment, Service and config the controller reads, as
decoded JSON: with a thousand Canaries, most of the objects the collector tracks. CPython's full
(generation 2) collection walks every one of them, and stops the event loop for about 0.3 s at
that size (bench/README.md). It starts on its own whenever the survivors of the younger
generations have grown by a quarter, which a burst of watch events does: the moment a burst of
changes is being detected.

`GarbageCollector.run` takes the full collections on a schedule instead. Every `period` seconds,
at a moment when no reconcile cycle has run for `quiet` seconds (waiting at most `patience` for
one), it unfreezes every object, collects, and freezes what survived (`gc.freeze`). The automatic
collections in between walk only what was allocated since, so their pauses stay short whatever
the number of Canaries. Nothing is leaked: a frozen object is still freed when its last
reference goes, and garbage cycles among frozen objects are found by the next scheduled
collection, which unfreezes them first.

Every collection, automatic or scheduled, is timed into `canary_gc_pause_seconds`. This module
must not do anything else: it never disables the collector nor changes its thresholds.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any, Final

import structlog
from prometheus_client import Histogram

__all__ = ["GC_PAUSE", "GarbageCollector", "observe_pauses"]

log = structlog.get_logger(__name__)

GC_PAUSE: Final = Histogram(
    "canary_gc_pause_seconds",
    "How long one collection of Python's cyclic garbage collector stopped the event loop, by "
    "the generation it collected (2: a full collection).",
    ["generation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

PERIOD = 300.0  # seconds between two scheduled full collections
QUIET = 0.5  # seconds without a reconcile cycle that make a moment quiet
PATIENCE = 60.0  # seconds to wait for a quiet moment before collecting anyway
POLL = 0.1  # seconds between two looks for a quiet moment


class _PauseTimer:
    """A `gc.callbacks` entry that times each collection into `GC_PAUSE`."""

    def __init__(self) -> None:
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            GC_PAUSE.labels(str(info.get("generation"))).observe(
                time.perf_counter() - self._started
            )
            self._started = None


_TIMER: Final = _PauseTimer()


def observe_pauses() -> None:
    """Time every collection from now on (once per process, however often called)."""
    if _TIMER not in gc.callbacks:
        gc.callbacks.append(_TIMER)


def collect_and_freeze() -> tuple[int, float]:
    """One full collection of everything, the survivors then frozen: how many objects it freed
    and how many seconds it took."""
    started = time.perf_counter()
    gc.unfreeze()
    freed = gc.collect()
    gc.freeze()
    return freed, time.perf_counter() - started


class GarbageCollector:
    def __init__(
        self,
        quiet_for: Callable[[], float],
        *,
        period: float = PERIOD,
        quiet: float = QUIET,
        patience: float = PATIENCE,
    ) -> None:
        self._quiet_for = quiet_for
        self.period = period
        self.quiet = quiet
        self.patience = patience
        self.collections = 0  # scheduled collections done

    async def run(self) -> None:
        """Collect on schedule until cancelled; unfreeze on the way out."""
        observe_pauses()
        try:
            while True:
                await asyncio.sleep(self.period)
                await self.once()
        finally:
            gc.unfreeze()

    async def once(self) -> None:
        """Wait for a quiet moment (at most `patience` seconds), then collect and freeze."""
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline:
            if self._quiet_for() >= self.quiet:
                break
            await asyncio.sleep(POLL)
        freed, seconds = collect_and_freeze()
        self.collections += 1
        log.debug(
            "gc_collected", freed=freed, seconds=round(seconds, 3), frozen=gc.get_freeze_count()
        )
