"""Wait for a condition on the cluster with a deadline, instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    *,
    until: Callable[[T], bool],
    within: float = 60.0,
    what: str = "condition",
) -> T:
    """Poll `probe` until `until(result)` holds; after `within` seconds, fail with the last."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {within:.0f} s; last: {result!r}")
        await asyncio.sleep(0.1)
