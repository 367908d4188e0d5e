"""Every HTTP read stops at its byte limit while streaming, and at its deadline.

A server on 127.0.0.1 answers with a chunked body that does not end (up to 256 MiB, far past
every limit), or that trickles a byte at a time. Prometheus queries (the controller's checks
and the CLI's range queries), webhooks, alerts and the load generator each read it: the read
stops, the check or call fails saying why, this process's resident memory grows by less than
20 MB, and the server sees the connection closed (nothing goes on reading in the background).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from canary.api import Phase
from canary.hooks.loadtester.load import TOO_LARGE, LoadSpec, generate
from canary.hooks.loadtester.server import MAX_OUTPUT_BYTES, Settings, _shell_task
from canary.hooks.webhooks import MAX_BODY_BYTES, WebhookPayload, WebhookSpec, call_webhook
from canary.metrics import FailureKind, MetricError, PrometheusClient
from canary.notify import Alert, ProviderSettings, send
from tests.integration.local_http import serving
from tests.integration.waiting import eventually

pytestmark = pytest.mark.integration

ENDLESS_BYTES = 256 << 20  # "endless": far past every limit, yet bounded if a reader never stops
CHUNK = b"x" * 65536
MAX_GROWTH = 20 << 20


@dataclass
class Endless:
    """The misbehaving server: `/endless` and `/trickle`, any method, with `?status=N`."""

    base: str
    sent: dict[str, int] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)

    def is_closed(self, path: str) -> bool:
        return path in self.closed


@pytest.fixture
async def endless() -> AsyncIterator[Endless]:
    state = Endless(base="")

    async def stream(request: web.Request) -> web.StreamResponse:
        kind = request.match_info["kind"]
        response = web.StreamResponse(status=int(request.query.get("status", "200")))
        response.content_type = "application/json"
        response.enable_chunked_encoding()
        await response.prepare(request)
        state.sent[kind] = 0
        try:
            while state.sent[kind] < ENDLESS_BYTES:
                if kind == "trickle":
                    await response.write(b" ")
                    state.sent[kind] += 1
                    await asyncio.sleep(0.05)
                else:
                    await response.write(CHUNK)
                    state.sent[kind] += len(CHUNK)
        except (ConnectionError, OSError, asyncio.CancelledError):
            state.closed.add(kind)  # the reader hung up
            raise
        return response

    app = web.Application()
    app.router.add_route("*", "/{kind}{tail:.*}", stream)
    async with serving(app) as url:
        state.base = url
        yield state


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@contextmanager
def peak_growth() -> Iterator[list[int]]:
    """Samples this process's resident memory while the block runs; yields [growth in bytes]
    (filled in at the end: the peak minus the resident memory before the block)."""
    before = _rss()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    growth: list[int] = []
    try:
        yield growth
    finally:
        done.set()
        sampler.join()
        growth.append(max(peak[0], _rss()) - before)


async def _closed(endless: Endless, kind: str) -> None:
    async def probe() -> bool:
        return endless.is_closed(kind)

    await eventually(probe, until=bool, within=15, what=f"the reader closing /{kind}")


async def test_a_prometheus_answer_stops_at_1_mib(endless: Endless) -> None:
    url = f"{endless.base}/endless"
    with peak_growth() as growth:
        async with PrometheusClient(url, timeout=10) as client:
            with pytest.raises(MetricError) as caught:
                await client.query("vector(1)")
        await _closed(endless, "endless")
    assert caught.value.kind is FailureKind.RESPONSE_TOO_LARGE
    assert caught.value.message == (
        f"answer from Prometheus at {url} is larger than 1 MiB (1048576 bytes, the limit);"
        " reading stopped there"
    )
    assert growth[0] < MAX_GROWTH
    assert endless.sent["endless"] < ENDLESS_BYTES


async def test_a_cli_range_query_stops_at_1_mib(endless: Endless) -> None:
    end = datetime.now(UTC)
    with peak_growth() as growth:
        async with PrometheusClient(f"{endless.base}/endless", timeout=10) as client:
            with pytest.raises(MetricError) as caught:
                await client.query_range("up", start=end - timedelta(minutes=5), end=end, step=15)
        await _closed(endless, "endless")
    assert caught.value.kind is FailureKind.RESPONSE_TOO_LARGE
    assert growth[0] < MAX_GROWTH


async def test_a_trickling_prometheus_answer_stops_at_the_deadline(endless: Endless) -> None:
    url = f"{endless.base}/trickle"
    async with PrometheusClient(url, timeout=1) as client:
        with pytest.raises(MetricError) as caught:
            await client.query("vector(1)")
        # The query's thread stops reading too: the server sees the connection closed.
        await _closed(endless, "trickle")
    assert caught.value.kind is FailureKind.TIMEOUT
    assert caught.value.message == f"Prometheus at {url} sent no complete answer within 1 s"


PAYLOAD = WebhookPayload(name="podinfo", namespace="test", phase="Progressing")


async def test_a_webhook_answer_stops_at_its_limit(endless: Endless) -> None:
    hook = WebhookSpec(name="gate", url=f"{endless.base}/endless?status=500", timeout_seconds=10)
    with peak_growth() as growth:
        async with aiohttp.ClientSession() as session:
            result = await call_webhook(hook, PAYLOAD, session=session)
        await _closed(endless, "endless")
    assert not result.ok
    assert result.message.endswith(f"... (body cut at {MAX_BODY_BYTES} bytes)")
    assert growth[0] < MAX_GROWTH


async def test_a_trickling_webhook_answer_stops_at_the_timeout(endless: Endless) -> None:
    hook = WebhookSpec(name="gate", url=f"{endless.base}/trickle", timeout_seconds=1)
    async with aiohttp.ClientSession() as session:
        result = await call_webhook(hook, PAYLOAD, session=session)
    await _closed(endless, "trickle")
    assert not result.ok
    assert result.message == (
        f"webhook gate ({endless.base}/trickle): no answer within 1 s (timeout)"
    )


ALERT = Alert(
    canary="podinfo",
    namespace="test",
    cluster=None,
    phase=Phase.FAILED,
    severity="error",
    message="rolled back",
)


async def test_an_alert_receivers_answer_stops_at_its_limit(endless: Endless) -> None:
    provider = ProviderSettings(type="slack", address=f"{endless.base}/endless?status=500")
    with peak_growth() as growth:
        async with aiohttp.ClientSession() as session:
            result = await send(provider, ALERT, session=session)
        await _closed(endless, "endless")
    assert not result.ok
    assert result.message == "HTTP 500: " + "x" * 199 + "…"
    assert growth[0] < MAX_GROWTH


async def test_a_trickling_alert_receiver_stops_at_the_timeout(endless: Endless) -> None:
    provider = ProviderSettings(
        type="slack", address=f"{endless.base}/trickle?status=500", timeout=1
    )
    async with aiohttp.ClientSession() as session:
        result = await send(provider, ALERT, session=session)
    await _closed(endless, "trickle")
    assert (result.ok, result.message) == (False, "no answer within 1s")


async def test_the_load_generator_drops_bodies_and_stops_at_its_limit(endless: Endless) -> None:
    spec = LoadSpec(url=f"{endless.base}/endless", requests=2, concurrency=1)
    with peak_growth() as growth:
        report = await generate(spec)
    assert (report.requests, report.errors, report.first_error) == (2, 2, TOO_LARGE)
    assert growth[0] < MAX_GROWTH


async def test_the_load_generator_stops_a_trickle_at_the_request_timeout(
    endless: Endless,
) -> None:
    spec = LoadSpec(url=f"{endless.base}/trickle", requests=1, concurrency=1, request_timeout=1)
    report = await generate(spec)
    await _closed(endless, "trickle")
    assert (report.requests, report.errors) == (1, 1)
    assert report.first_error.startswith(("TimeoutError", "ServerTimeoutError"))


async def test_a_load_tester_commands_output_keeps_only_its_end() -> None:
    command = "head -c 100000000 /dev/zero | tr '\\0' a; printf end"
    task = _shell_task("test/podinfo", command, Settings(allow_commands=True, task_timeout=60))
    with peak_growth() as growth:
        code, report = await task.run()
    assert code == 200
    assert report["output"] == "a" * (MAX_OUTPUT_BYTES - 3) + "end"
    assert growth[0] < MAX_GROWTH
