"""The golden signals of the primary and the canary, side by side, as `canary describe` shows them.

Request rate, success rate and p99 latency of each Deployment, from the same proxy metrics the
builtin checks read (`canary.metrics.builtin`: Linkerd's `response_total` and
`response_latency_ms_bucket`, or the application's `http_request_duration_seconds` for the
`kubernetes` and `gatewayapi:*` providers), over a rate window; and the success rate of both over
time, for a sparkline. A value that cannot be had is shown with its reason, never guessed. When
Prometheus cannot answer at all, the result says why instead of failing the view.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from math import ceil
from typing import Protocol

from canary.metrics.builtin import (
    REQUEST_DURATION,
    REQUEST_SUCCESS_RATE,
    builtin_query,
    builtin_scale,
    table_of,
)
from canary.metrics.errors import MetricError
from canary.metrics.inputs import CanaryContext
from canary.metrics.series import Series
from canary.metrics.template import render


# Mesh -> the request rate (per second) of `{{ target }}`, beside the builtin checks' queries.
class RangeQueryClient(Protocol):
    """What this module needs of Prometheus: `PrometheusClient`, or a fake in tests."""

    async def query(self, promql: str) -> float: ...

    async def query_range(
        self, promql: str, *, start: datetime, end: datetime, step: int
    ) -> tuple[Series, ...]: ...


@dataclass(frozen=True)
class Reading:
    """One measured value, or why there is none."""

    value: float | None
    problem: str = ""


@dataclass(frozen=True)
class Signals:
    """The golden signals of one Deployment."""

    request_rate: Reading
    success_rate: Reading
    latency_p99: Reading


@dataclass(frozen=True)
class Chart:
    """Two series on one time grid (one point every `step` seconds); None is a gap."""

    times: tuple[datetime, ...]
    step: int
    primary: tuple[float | None, ...]
    canary: tuple[float | None, ...]
    problem: str = ""


@dataclass(frozen=True)
class Golden:
    window: str
    primary: Signals
    canary: Signals
    success_over_time: Chart


@dataclass(frozen=True)
class Unavailable:
    reason: str


@dataclass(frozen=True)
class Span:
    """The time range of the charts, and how many points at most they have."""

    start: datetime
    end: datetime
    points: int


@dataclass(frozen=True)
class Workloads:
    """Whose signals: the primary and canary Deployments of one Canary."""

    namespace: str
    primary: str
    canary: str
    provider: str


async def golden_signals(
    client: RangeQueryClient, workloads: Workloads, *, window: str, span: Span
) -> Golden | Unavailable:
    """Ask Prometheus for both Deployments' signals now, and their success rate over `span`."""
    try:
        templates = {
            "rate": table_of(workloads.provider).request_rate,
            "success": builtin_query(REQUEST_SUCCESS_RATE, provider=workloads.provider),
            "latency": builtin_query(REQUEST_DURATION, provider=workloads.provider),
        }
        queries = {
            (side, kind): _render(template, workloads, side=side, window=window)
            for side in ("primary", "canary")
            for kind, template in templates.items()
        }
        await client.query("vector(1)")  # one quick question first: is anyone there?
    except MetricError as error:
        return Unavailable(str(error))
    keys = list(queries)
    readings = await asyncio.gather(*(_reading(client, queries[key]) for key in keys))
    found = dict(zip(keys, readings, strict=True))
    scale = builtin_scale(REQUEST_DURATION, provider=workloads.provider)  # to milliseconds
    for side in ("primary", "canary"):
        latency = found[side, "latency"]
        if latency.value is not None:
            found[side, "latency"] = Reading(latency.value * scale)
    chart = await _chart(
        client,
        primary=queries["primary", "success"],
        canary=queries["canary", "success"],
        span=span,
    )
    return Golden(
        window=window,
        primary=Signals(
            found["primary", "rate"], found["primary", "success"], found["primary", "latency"]
        ),
        canary=Signals(
            found["canary", "rate"], found["canary", "success"], found["canary", "latency"]
        ),
        success_over_time=chart,
    )


def grid(start: datetime, end: datetime, *, points: int) -> tuple[tuple[datetime, ...], int]:
    """Whole-second times from `start` to `end`, at most `points` of them, and their step."""
    first, last = int(start.timestamp()), int(end.timestamp())
    step = max(1, ceil((last - first) / max(points - 1, 1)))
    times = tuple(datetime.fromtimestamp(t, UTC) for t in range(first, last + 1, step))
    return times, step


def _render(template: str, workloads: Workloads, *, side: str, window: str) -> str:
    deployment = workloads.primary if side == "primary" else workloads.canary
    context = CanaryContext(
        name=workloads.canary,
        namespace=workloads.namespace,
        target=deployment,  # matched with =~, as the builtin checks match it
        provider=workloads.provider,
    )
    return render(template, context=context, interval=window, variables={})


async def _reading(client: RangeQueryClient, promql: str) -> Reading:
    try:
        return Reading(await client.query(promql))
    except MetricError as error:
        return Reading(None, str(error))


async def _chart(client: RangeQueryClient, *, primary: str, canary: str, span: Span) -> Chart:
    times, step = grid(span.start, span.end, points=span.points)
    if len(times) < 2:
        return Chart(times, step, (), (), problem="the time range is too short for a chart")
    try:
        found = [
            await client.query_range(promql, start=times[0], end=times[-1], step=step)
            for promql in (primary, canary)
        ]
    except MetricError as error:
        return Chart(times, step, (), (), problem=str(error))
    primary_values, canary_values = (_on_grid(series, times) for series in found)
    return Chart(times, step, primary_values, canary_values)


def _on_grid(series: tuple[Series, ...], times: tuple[datetime, ...]) -> tuple[float | None, ...]:
    if not series:
        return tuple(None for _ in times)
    return tuple(series[0].at(moment.timestamp()) for moment in times)
