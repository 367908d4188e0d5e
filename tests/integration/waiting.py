"""Wait for a condition on the cluster with a deadline, instead of sleeping and hoping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp

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


async def until_serving(
    url: str, *, within: float, what: str, exited: Callable[[], str | None] = lambda: None
) -> None:
    """Until `url` answers 200. `exited` says why the process behind it is gone (None while it
    runs): then waiting is over at once, and the failure says so instead of timing out."""
    deadline = time.monotonic() + within
    last = "no answer"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            gone = exited()
            if gone is not None:
                raise AssertionError(f"{what}: {gone}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
                    last = f"{response.status} {await response.text()}"
            except (aiohttp.ClientError, TimeoutError) as error:
                last = repr(error)
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: {url} not 200 within {within:g} s (last: {last})")
            await asyncio.sleep(0.1)
