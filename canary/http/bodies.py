"""Bounded reads of byte streams: stop at a byte limit while streaming, never after the fact.

A peer that answers with a chunked body has no Content-Length to refuse up front; reading it
whole before checking its size lets one endless answer take all the memory. Every HTTP read of
the project goes through these functions instead:

- `read_at_most`: keep at most `limit` bytes and say whether more followed (the rest is never
  read: the caller closes the connection);
- `drain`: read and drop a body up to `limit` bytes (a load generator needs the timing, not the
  bytes);
- `keep_tail`: read a stream to its end keeping only its last `limit` bytes (a command's output);
- `read_within`: the blocking form of `read_at_most` for a thread (requests), with a wall-clock
  deadline checked before every read and handed to the read as its timeout.

The async functions take anything with `async read(n) -> bytes` (aiohttp's and asyncio's
stream readers); their time bound is the caller's `asyncio.timeout` around the whole exchange.
This module does no I/O of its own and imports no HTTP library.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

CHUNK_BYTES: Final = 64 * 1024


class AsyncReader(Protocol):
    """What the async readers need: aiohttp's `response.content`, an asyncio StreamReader."""

    async def read(self, n: int = -1) -> bytes:
        """At most `n` bytes; b"" at the end of the stream."""
        ...


@dataclass(frozen=True)
class Body:
    """The bytes read, and whether the stream held more than the limit (`truncated`)."""

    data: bytes
    truncated: bool


class DeadlineExceededError(TimeoutError):
    """`read_within` reached its deadline before the end of the body."""


async def read_at_most(stream: AsyncReader, limit: int) -> Body:
    """At most `limit` bytes of `stream`; one byte more is read to tell whether it had more."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = await stream.read(min(CHUNK_BYTES, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    return Body(data[:limit], truncated=size > limit)


async def drain(stream: AsyncReader, limit: int) -> tuple[int, bool]:
    """Read and drop up to `limit` bytes: (bytes read, whether the stream held more)."""
    size = 0
    while size <= limit:
        chunk = await stream.read(min(CHUNK_BYTES, limit + 1 - size))
        if not chunk:
            break
        size += len(chunk)
    return min(size, limit), size > limit


async def keep_tail(stream: AsyncReader, limit: int) -> Body:
    """Read `stream` to its end, keeping its last `limit` bytes (`truncated`: some were
    dropped). Memory stays under `limit` plus one chunk however long the stream runs."""
    kept = bytearray()
    dropped = False
    while chunk := await stream.read(CHUNK_BYTES):
        kept += chunk
        if len(kept) > limit:
            del kept[: len(kept) - limit]
            dropped = True
    return Body(bytes(kept), truncated=dropped)


def read_within(
    read: Callable[[int, float], bytes],
    *,
    limit: int,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> Body:
    """Call `read(n, timeout)` until it returns b"", `limit` is passed or `deadline` (a
    `clock()` value) comes: at most `limit` bytes, and whether more followed.

    `read` must return what is available (one chunk, at most `n` bytes) rather than wait for
    `n`, and must not block longer than `timeout` seconds; raises `DeadlineExceededError` when
    the deadline comes first (the caller closes the connection).
    """
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        remaining = deadline - clock()
        if remaining <= 0:
            raise DeadlineExceededError
        chunk = read(min(CHUNK_BYTES, limit + 1 - size), remaining)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    data = b"".join(chunks)
    return Body(data[:limit], truncated=size > limit)
