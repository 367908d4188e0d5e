"""Bounded reads: never more than the limit, never past the deadline, whatever the stream does."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from canary.http.bodies import (
    CHUNK_BYTES,
    DeadlineExceededError,
    drain,
    keep_tail,
    read_at_most,
    read_within,
)


class Endless:
    """An async stream of `chunk` bytes forever (or `total` bytes); counts what was asked."""

    def __init__(self, chunk: bytes = b"x" * 1000, total: int | None = None) -> None:
        self.chunk = chunk
        self.left = total
        self.read_bytes = 0

    async def read(self, n: int = -1) -> bytes:
        size = len(self.chunk) if n < 0 else min(n, len(self.chunk))
        if self.left is not None:
            size = min(size, self.left)
            self.left -= size
        self.read_bytes += size
        return self.chunk[:size]


async def test_read_at_most_stops_one_byte_past_the_limit() -> None:
    stream = Endless()
    body = await read_at_most(stream, 10_000)
    assert (len(body.data), body.truncated) == (10_000, True)
    assert stream.read_bytes == 10_001


@pytest.mark.parametrize("total", [0, 1, 9_999, 10_000])
async def test_read_at_most_reads_a_short_body_whole(total: int) -> None:
    body = await read_at_most(Endless(total=total), 10_000)
    assert (len(body.data), body.truncated) == (total, False)


async def test_drain_counts_and_drops() -> None:
    stream = Endless()
    assert await drain(stream, 5 * CHUNK_BYTES) == (5 * CHUNK_BYTES, True)
    assert stream.read_bytes == 5 * CHUNK_BYTES + 1
    assert await drain(Endless(total=123), 5 * CHUNK_BYTES) == (123, False)


async def test_keep_tail_keeps_the_end_of_a_long_stream() -> None:
    # Bytes 999_998 to 1_000_004 of "0123456789" repeated.
    body = await keep_tail(Endless(chunk=b"0123456789", total=1_000_005), 7)
    assert (body.data, body.truncated) == (b"8901234", True)
    short = await keep_tail(Endless(chunk=b"abc", total=3), 7)
    assert (short.data, short.truncated) == (b"abc", False)


def test_read_within_gives_each_read_the_time_left_and_stops_at_the_deadline() -> None:
    now = iter(itertools.count(0.0, 1.0))
    timeouts: list[float] = []

    def read(size: int, timeout: float) -> bytes:
        timeouts.append(timeout)
        return b"x" * min(size, 10)

    with pytest.raises(DeadlineExceededError):
        read_within(read, limit=1000, deadline=3.0, clock=lambda: next(now))
    assert timeouts == [3.0, 2.0, 1.0]


def test_read_within_stops_at_the_limit() -> None:
    chunks: Iterator[bytes] = iter(lambda: b"y" * 100, None)
    body = read_within(lambda size, _t: next(chunks)[:size], limit=250, deadline=float("inf"))
    assert (len(body.data), body.truncated) == (250, True)
