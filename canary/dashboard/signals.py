"""What Prometheus says about one Canary, for its page: the golden signals of the primary and the
canary side by side, and each builtin check's values over time against its range.

The golden signals are `canary describe`'s (`canary.cli.views.golden`). A check's values over
time come from a range query of the same builtin query the controller judges, rendered for the
canary's Deployment; checks of a MetricTemplate are shown with their latest value and range
from the status only. Prometheus is optional: without it, or when it fails, the page says why
and shows everything else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from canary.cli.views.describe import chart_start, rate_window
from canary.cli.views.golden import (
    Golden,
    Reading,
    Signals,
    Span,
    Unavailable,
    Workloads,
    golden_signals,
    grid,
)
from canary.cli.views.timeline import EventView
from canary.core.redaction import redact_url
from canary.metrics.builtin import BUILTIN_NAMES, builtin_query, builtin_scale
from canary.metrics.errors import MetricError
from canary.metrics.inputs import DEFAULT_INTERVAL, DEFAULT_PROVIDER, CanaryContext
from canary.metrics.prometheus import PrometheusClient
from canary.metrics.template import render
from canary.targets.deployment import primary_name

PROMETHEUS_TIMEOUT: Final = 5.0
CHART_POINTS: Final = 120
NO_URL: Final = (
    "no Prometheus URL: start the dashboard with --prometheus-url, or set spec.metricsServer"
)

JSON = dict[str, Any]


def _reading(reading: Reading) -> JSON:
    return {"value": reading.value, "problem": reading.problem}


def _signals(signals: Signals) -> JSON:
    return {
        "requestRate": _reading(signals.request_rate),
        "successRate": _reading(signals.success_rate),
        "latencyP99": _reading(signals.latency_p99),
    }


def golden_json(found: Golden | Unavailable) -> JSON:
    if isinstance(found, Unavailable):
        return {"problem": found.reason}
    chart = found.success_over_time
    return {
        "problem": "",
        "window": found.window,
        "primary": _signals(found.primary),
        "canary": _signals(found.canary),
        "successOverTime": {
            "times": [moment.timestamp() for moment in chart.times],
            "primary": list(chart.primary),
            "canary": list(chart.canary),
            "problem": chart.problem,
        },
    }


async def metrics_of(
    canary: Mapping[str, Any], events: Sequence[EventView], *, url: str, now: datetime
) -> JSON:
    """`golden` and `checks` (name -> series or problem) of the Canary's page."""
    spec = canary.get("spec") or {}
    url = url or str(spec.get("metricsServer") or "")
    if not url:
        return {"golden": {"problem": NO_URL}, "checks": {}, "prometheus": ""}
    target = str((spec.get("targetRef") or {}).get("name") or "")
    namespace = str((canary.get("metadata") or {}).get("namespace") or "")
    provider = str(spec.get("provider") or os.environ.get("CANARY_PROVIDER") or DEFAULT_PROVIDER)
    workloads = Workloads(
        namespace=namespace, primary=primary_name(target), canary=target, provider=provider
    )
    span = Span(start=chart_start(events, now=now), end=now, points=CHART_POINTS)
    try:
        client = PrometheusClient(url, timeout=PROMETHEUS_TIMEOUT)
    except ValueError as error:
        problem = f"Prometheus URL {redact_url(url)!r}: {error}"
        return {"golden": {"problem": problem}, "checks": {}, "prometheus": redact_url(url)}
    async with client:
        golden = await golden_signals(client, workloads, window=rate_window(spec), span=span)
        checks: JSON = {}
        if not isinstance(golden, Unavailable):  # Prometheus answers
            for metric in (spec.get("analysis") or {}).get("metrics") or []:
                name = str(metric.get("name") or "")
                if name in BUILTIN_NAMES and not metric.get("templateRef"):
                    checks[name] = await _check_series(client, metric, workloads, span=span)
    return {"golden": golden_json(golden), "checks": checks, "prometheus": redact_url(url)}


async def _check_series(
    client: PrometheusClient, metric: Mapping[str, Any], workloads: Workloads, *, span: Span
) -> JSON:
    name = str(metric["name"])
    context = CanaryContext(
        name=workloads.canary,
        namespace=workloads.namespace,
        target=workloads.canary,
        provider=workloads.provider,
    )
    interval = str(metric.get("interval") or DEFAULT_INTERVAL)
    times, step = grid(span.start, span.end, points=span.points)
    if len(times) < 2:
        return {"times": [], "values": [], "problem": "the time range is too short for a chart"}
    try:
        promql = render(
            builtin_query(name, provider=workloads.provider),
            context=context,
            interval=interval,
            variables={},
        )
        found = await client.query_range(promql, start=times[0], end=times[-1], step=step)
    except (MetricError, ValueError) as error:
        return {"times": [], "values": [], "problem": str(error)}
    scale = builtin_scale(name, provider=workloads.provider)
    values = (
        [
            None if (value := found[0].at(moment.timestamp())) is None else value * scale
            for moment in times
        ]
        if found
        else [None for _ in times]
    )
    return {"times": [moment.timestamp() for moment in times], "values": values, "problem": ""}
