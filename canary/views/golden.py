"""The golden signals of the primary and the canary, side by side, as `canary describe` shows them.

Request rate, success rate and latency of each, read with the queries of the Canary's provider
(its `BuiltinTable` in `canary.metrics.builtin`: Linkerd's or Istio's proxy series, the
application's `http_request_duration_seconds` for `kubernetes` and `gatewayapi:*`, the series of
an ingress or Envoy cluster for the others) over a rate window; and the success rate of both
over time, for a sparkline. Where the target's name tells the two apart (a mesh's series per
workload), the queries are rendered once for each; where the provider picks the canary's series
by a name of its own (the canary Ingress, the `<apex>-canary` cluster), the table's `primary`
queries pick the primary's. A provider whose series cannot tell them apart (APISIX) is shown
as unavailable, with that reason. A value that cannot be had is shown with its reason, never
guessed. When Prometheus cannot answer at all, the result says why instead of failing the view.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from math import ceil
from typing import Protocol

from canary.metrics.builtin import builtin_context, table_of
from canary.metrics.errors import MetricError
from canary.metrics.meshes.table import BuiltinTable
from canary.metrics.series import Series
from canary.metrics.template import render
from canary.views.workloads import SIDES, Side, Workloads


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
    """The golden signals of one side (the primary or the canary)."""

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
    latency: str = "p99"  # what `latency_p99` is: the p99, or the mean for some providers


@dataclass(frozen=True)
class Unavailable:
    reason: str
    answered: bool = False  # Prometheus answered (the reason is not about reaching it)


@dataclass(frozen=True)
class Span:
    """The time range of the charts, and how many points at most they have."""

    start: datetime
    end: datetime
    points: int


async def golden_signals(
    client: RangeQueryClient, workloads: Workloads, *, window: str, span: Span
) -> Golden | Unavailable:
    """Ask Prometheus for both sides' signals now, and their success rate over `span`."""
    try:
        table = table_of(workloads.provider, target_kind=workloads.target_kind)
        queries = {
            (side, kind): query
            for side in SIDES
            for kind, query in _queries(table, workloads, side=side, window=window).items()
        }
        await client.query("vector(1)")  # one quick question first: is anyone there?
    except MetricError as error:
        return Unavailable(str(error))
    if table.together:
        return Unavailable(f"provider {workloads.provider}: {table.together}", answered=True)
    keys = list(queries)
    readings = await asyncio.gather(*(_reading(client, queries[key]) for key in keys))
    found = dict(zip(keys, readings, strict=True))
    for side in SIDES:  # to milliseconds
        latency = found[side, "latency"]
        if latency.value is not None:
            found[side, "latency"] = Reading(latency.value * table.duration_scale)
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
        latency=table.duration_statistic,
    )


def _queries(
    table: BuiltinTable, workloads: Workloads, *, side: Side, window: str
) -> dict[str, str]:
    """The queries of `side`'s signals: the table's own (or its `primary` variant, for the
    primary of a provider that has one) rendered with the names that select that side."""
    if side == "primary" and table.primary is not None:
        table, context = table.primary, workloads.context("canary")
    else:
        context = workloads.context(side)
    context = builtin_context(context)  # the names as the provider spells them
    templates = {
        "rate": table.request_rate,
        "success": table.success_rate,
        "latency": table.duration,
    }
    return {
        kind: render(template, context=context, interval=window, variables={})
        for kind, template in templates.items()
    }


def grid(start: datetime, end: datetime, *, points: int) -> tuple[tuple[datetime, ...], int]:
    """Whole-second times from `start` to `end`, at most `points` of them, and their step."""
    first, last = int(start.timestamp()), int(end.timestamp())
    step = max(1, ceil((last - first) / max(points - 1, 1)))
    times = tuple(datetime.fromtimestamp(t, UTC) for t in range(first, last + 1, step))
    return times, step


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
