"""The load generator: HTTP requests at a rate, with a concurrency, for a duration or a count.

A `LoadSpec` says what to send; `generate` sends it with aiohttp and answers a `LoadReport`
(requests, errors, status codes, latency percentiles). Requests are scheduled on one shared
clock (request i is due at start + i / rate), so the rate holds however many workers share it,
and a slow target lowers the achieved rate rather than piling requests up.

Response bodies are read to measure the whole exchange, as hey does, but dropped as they come
and never beyond `MAX_RESPONSE_BYTES` (a longer one counts as an error and its connection is
closed); `request_timeout` bounds each request, body included.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from canary.core.redaction import redact_text
from canary.http.bodies import drain

# hey's defaults.
DEFAULT_CONCURRENCY = 50
DEFAULT_REQUESTS = 200
DEFAULT_REQUEST_TIMEOUT = 20.0
# The most of one response that is read (and dropped); a longer one is an error.
MAX_RESPONSE_BYTES = 64 << 20
TOO_LARGE = f"response larger than {MAX_RESPONSE_BYTES >> 20} MiB; reading stopped there"


@dataclass(frozen=True)
class LoadSpec:
    """What to send. `rate` is requests per second for the whole run (None: as fast as possible);
    `duration` (seconds) wins over `requests` when both are set, as hey's -z over -n."""

    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    duration: float | None = None
    requests: int | None = None
    rate: float | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    proxy: str | None = None
    """An HTTP proxy's URL (hey's -x)."""
    follow_redirects: bool = False
    """Follow redirects (up to 10, as Go's client does); a redirect is an answer otherwise."""
    compression: bool = True
    """Ask for compressed responses (aiohttp's default); hey's -disable-compression clears it."""
    keepalive: bool = True
    """Reuse connections; hey's -disable-keepalive clears it (a new connection per request)."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {self.concurrency}")
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"rate must be a positive number, got {self.rate}")
        if self.duration is not None and not (self.duration > 0 and math.isfinite(self.duration)):
            raise ValueError(f"duration must be positive, got {self.duration}")
        if self.requests is not None and self.requests < 1:
            raise ValueError(f"the number of requests must be at least 1, got {self.requests}")
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"the target must be an http or https URL, got {self.url!r}")

    @property
    def limit(self) -> int | None:
        """How many requests to send at most (None: until the duration ends)."""
        if self.duration is not None:
            return None
        return self.requests if self.requests is not None else DEFAULT_REQUESTS


@dataclass(frozen=True)
class LoadReport:
    requests: int
    errors: int
    status_codes: Mapping[int, int]
    duration: float
    latencies: tuple[float, ...]  # seconds, sorted
    first_error: str = ""

    def percentile(self, q: float) -> float | None:
        """The nearest-rank `q` percentile of latencies in seconds (None without requests)."""
        if not self.latencies:
            return None
        rank = max(1, math.ceil(q / 100 * len(self.latencies)))
        return self.latencies[rank - 1]

    def to_json(self) -> dict[str, Any]:
        def ms(q: float) -> float | None:
            value = self.percentile(q)
            return None if value is None else round(value * 1000, 3)

        return {
            "requests": self.requests,
            "errors": self.errors,
            "statusCodes": {str(code): n for code, n in sorted(self.status_codes.items())},
            "durationSeconds": round(self.duration, 3),
            "rps": round(self.requests / self.duration, 3) if self.duration > 0 else 0.0,
            "latencyMs": {"p50": ms(50), "p90": ms(90), "p99": ms(99)},
            "firstError": self.first_error,
        }


async def generate(spec: LoadSpec, *, session: aiohttp.ClientSession | None = None) -> LoadReport:
    """Send the load `spec` describes; never raises for the target's faults."""
    if session is None:
        connector = aiohttp.TCPConnector(limit=spec.concurrency, force_close=not spec.keepalive)
        async with aiohttp.ClientSession(connector=connector) as own:
            return await generate(spec, session=own)
    started = time.monotonic()
    deadline = started + spec.duration if spec.duration is not None else math.inf
    limit = spec.limit
    interval = 1.0 / spec.rate if spec.rate is not None else 0.0
    next_index = 0
    latencies: list[float] = []
    codes: Counter[int] = Counter()
    errors = 0
    sent_count = 0
    first_error = ""
    timeout = aiohttp.ClientTimeout(total=spec.request_timeout)

    def claim() -> float | None:
        """The due time of the next request, or None when the run is over."""
        nonlocal next_index
        if limit is not None and next_index >= limit:
            return None
        due = started + next_index * interval
        if due >= deadline:
            return None
        next_index += 1
        return due

    async def worker() -> None:
        nonlocal errors, sent_count, first_error
        while (due := claim()) is not None:
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.monotonic() >= deadline:
                return
            sent = time.monotonic()
            sent_count += 1
            try:
                async with session.request(
                    spec.method,
                    spec.url,
                    headers=dict(spec.headers),
                    data=spec.body,
                    timeout=timeout,
                    allow_redirects=spec.follow_redirects,
                    max_redirects=10,
                    proxy=spec.proxy,
                    skip_auto_headers=() if spec.compression else ("Accept-Encoding",),
                    auto_decompress=spec.compression,
                ) as response:
                    _size, too_long = await drain(response.content, MAX_RESPONSE_BYTES)
                    codes[response.status] += 1
                if too_long:  # the connection was closed as the response was left
                    errors += 1
                    first_error = first_error or TOO_LARGE
                    continue
                if response.status >= 400:
                    errors += 1
            except (aiohttp.ClientError, TimeoutError, OSError) as error:
                errors += 1
                reason = f"{type(error).__name__}: {error}"
                first_error = first_error or redact_text(reason)
                continue
            latencies.append(time.monotonic() - sent)

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    return LoadReport(
        requests=sent_count,
        errors=errors,
        status_codes=dict(codes),
        duration=time.monotonic() - started,
        latencies=tuple(sorted(latencies)),
        first_error=first_error,
    )
