"""Event loop lag: how late the loop runs what is due, measured by a task that sleeps on purpose.

Everything the controller does (watches, cycles, webhooks, /healthz) shares one asyncio loop. A
callback that blocks it (a synchronous call, a long computation) delays all of them. The
`LoopMonitor` sleeps `period` seconds at a time and measures how much longer the sleep took:
that overshoot is the lag every other task suffered at that moment. It is observed in
`canary_event_loop_lag_seconds`, and the time of the last wake-up is kept for /healthz, which
fails when the monitor has not woken for `stale_after` seconds (the loop was stuck that long)
or has stopped.

The monitor only measures; it must not do anything that could itself block the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

from prometheus_client import Histogram

__all__ = ["LOOP_LAG", "LoopMonitor"]

LOOP_LAG: Final = Histogram(
    "canary_event_loop_lag_seconds",
    "How much later than asked the event loop woke a task sleeping on purpose (sampled every "
    "0.25 s): the delay every task suffered at that moment.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class LoopMonitor:
    def __init__(
        self,
        *,
        period: float = 0.25,
        stale_after: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        histogram: Histogram = LOOP_LAG,
    ) -> None:
        self.period = period
        self.stale_after = stale_after
        self._clock = clock
        self._histogram = histogram
        self._last_beat = clock()  # so a monitor about to start is not reported as stale
        self.last_lag: float | None = None  # seconds, of the latest measurement
        self._stopped: str | None = None  # why `run` ended, once it has

    async def run(self) -> None:
        """Measure until cancelled."""
        self._last_beat = self._clock()
        try:
            while True:
                asked = self._clock()
                await asyncio.sleep(self.period)
                self.beat(self._clock() - asked - self.period)
        except asyncio.CancelledError:
            self._stopped = "cancelled"
            raise
        except BaseException as error:
            self._stopped = f"crashed: {error!r}"
            raise

    def beat(self, lag: float) -> None:
        """One measurement: the loop woke the monitor `lag` seconds late."""
        self.last_lag = max(0.0, lag)
        self._histogram.observe(self.last_lag)
        self._last_beat = self._clock()

    def problem(self) -> str | None:
        """Why the event loop is not healthy, or None: the monitor stopped, or has not woken
        for longer than `stale_after` seconds."""
        if self._stopped is not None:
            return f"the event loop monitor stopped ({self._stopped})"
        silent = self._clock() - self._last_beat
        if silent > self.stale_after:
            return f"the event loop did not wake its monitor for {silent:.1f} s"
        return None
