"""What Prometheus says about one Canary, for its page: the golden signals of the primary and the
canary side by side, and each builtin check's values over time against its range.

The golden signals are those `canary describe` shows (`canary.views.golden`). A check's values
over time come from a range query of the same query the controller judges, rendered for the Canary:
the builtin queries, a metric's own `query`, or the query of a Prometheus MetricTemplate (read as
the person, by the caller of `metrics_of`). A MetricTemplate of another provider, or one whose
Prometheus needs credentials (a `secretRef`, which the dashboard does not read for anyone), is
shown with its latest value and range from the status only, and says why. Prometheus is
optional: without it, or when it fails, the page says why and shows everything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from canary.core.redaction import redact_url
from canary.metrics.builtin import BUILTIN_NAMES, builtin_context, builtin_query, builtin_scale
from canary.metrics.errors import MetricError
from canary.metrics.inputs import DEFAULT_INTERVAL
from canary.metrics.prometheus import PrometheusClient
from canary.metrics.template import render
from canary.views.golden import (
    Golden,
    Reading,
    Signals,
    Span,
    Unavailable,
    golden_signals,
    grid,
)
from canary.views.timeline import EventView
from canary.views.window import chart_start, rate_window
from canary.views.workloads import workloads_of

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
        "latency": found.latency,
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
    canary: Mapping[str, Any],
    events: Sequence[EventView],
    *,
    templates: Mapping[tuple[str, str], Mapping[str, Any] | None],
    url: str,
    now: datetime,
) -> JSON:
    """`golden` and `checks` (name -> series or problem) of the Canary's page."""
    spec = canary.get("spec") or {}
    url = url or str(spec.get("metricsServer") or "")
    if not url:
        return {"golden": {"problem": NO_URL}, "checks": {}, "prometheus": ""}
    workloads = workloads_of(canary)
    namespace, provider, kind = workloads.namespace, workloads.provider, workloads.target_kind
    span = Span(start=chart_start(events, now=now), end=now, points=CHART_POINTS)
    try:
        client = PrometheusClient(url, timeout=PROMETHEUS_TIMEOUT)
    except ValueError as error:
        problem = f"Prometheus URL {redact_url(url)!r}: {error}"
        return {"golden": {"problem": problem}, "checks": {}, "prometheus": redact_url(url)}
    context = workloads.context("canary")  # the names the controller renders checks with
    async with client:
        golden = await golden_signals(client, workloads, window=rate_window(spec), span=span)
        checks: JSON = {}
        for metric in (spec.get("analysis") or {}).get("metrics") or []:
            name = str(metric.get("name") or "")
            query = _query_of(
                metric, templates, namespace=namespace, provider=provider, target_kind=kind
            )
            if isinstance(query, Unavailable):
                checks[name] = {"times": [], "values": [], "problem": query.reason}
                continue
            promql, address = query
            interval = str(metric.get("interval") or DEFAULT_INTERVAL)
            try:
                names = builtin_context(context) if _runs_builtin(metric) else context
                promql = render(promql, context=names, interval=interval, variables=_vars(metric))
            except MetricError as error:
                checks[name] = {"times": [], "values": [], "problem": str(error)}
                continue
            scale = builtin_scale(name, provider=provider) if name in BUILTIN_NAMES else 1.0
            if address:
                checks[name] = await _series_at(address, promql, scale=scale, span=span)
            elif isinstance(golden, Unavailable) and not golden.answered:  # no answer from it
                checks[name] = {"times": [], "values": [], "problem": golden.reason}
            else:
                checks[name] = await _series(client, promql, scale=scale, span=span)
    return {"golden": golden_json(golden), "checks": checks, "prometheus": redact_url(url)}


def _runs_builtin(metric: Mapping[str, Any]) -> bool:
    """Whether `metric` runs a builtin query (and so sees the names as its provider spells
    them), as the controller decides it."""
    own = metric.get("templateRef") or metric.get("query")
    return not own and str(metric.get("name") or "") in BUILTIN_NAMES


def _vars(metric: Mapping[str, Any]) -> dict[str, str]:
    found = metric.get("templateVariables") or {}
    return {str(key): str(value) for key, value in found.items()}


def _query_of(  # noqa: PLR0911 - one return per reason a check cannot be charted
    metric: Mapping[str, Any],
    templates: Mapping[tuple[str, str], Mapping[str, Any] | None],
    *,
    namespace: str,
    provider: str,
    target_kind: str,
) -> tuple[str, str] | Unavailable:
    """The query template of `metric` and the Prometheus to ask ("": the dashboard's own), or
    why its values cannot be charted."""
    name = str(metric.get("name") or "")
    reference = metric.get("templateRef")
    if not reference:
        if metric.get("query"):
            return str(metric["query"]), ""
        if name in BUILTIN_NAMES:
            return builtin_query(name, provider=provider, target_kind=target_kind), ""
        return Unavailable(f"{name} has neither a query nor a templateRef")
    key = (str(reference.get("namespace") or namespace), str(reference.get("name") or ""))
    template = templates.get(key)
    if template is None:
        return Unavailable(f"MetricTemplate {key[0]}/{key[1]} cannot be read")
    template_spec = template.get("spec") or {}
    source = template_spec.get("provider") or {}
    if source.get("type") != "prometheus":
        return Unavailable(f"charts are drawn for Prometheus templates, not {source.get('type')}")
    if source.get("secretRef"):
        return Unavailable("its Prometheus needs credentials, which the dashboard does not read")
    return str(template_spec.get("query") or ""), str(source.get("address") or "")


def template_refs(canary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(namespace, name) of every MetricTemplate the Canary's checks refer to."""
    namespace = str((canary.get("metadata") or {}).get("namespace") or "")
    spec = canary.get("spec") or {}
    found = []
    for metric in (spec.get("analysis") or {}).get("metrics") or []:
        reference = metric.get("templateRef") or {}
        if reference.get("name"):
            found.append((str(reference.get("namespace") or namespace), str(reference["name"])))
    return sorted(set(found))


async def _series_at(address: str, promql: str, *, scale: float, span: Span) -> JSON:
    """`_series` from the Prometheus at `address` (a MetricTemplate's own)."""
    try:
        client = PrometheusClient(address, timeout=PROMETHEUS_TIMEOUT)
    except ValueError as error:
        return {"times": [], "values": [], "problem": f"{redact_url(address)!r}: {error}"}
    async with client:
        return await _series(client, promql, scale=scale, span=span)


async def _series(client: PrometheusClient, promql: str, *, scale: float, span: Span) -> JSON:
    """One check's values over `span` (the first series, times `scale`), or why there are none."""
    times, step = grid(span.start, span.end, points=span.points)
    if len(times) < 2:
        return {"times": [], "values": [], "problem": "the time range is too short for a chart"}
    try:
        found = await client.query_range(promql, start=times[0], end=times[-1], step=step)
    except MetricError as error:
        return {"times": [], "values": [], "problem": str(error)}
    values: list[float | None] = [None for _ in times]
    if found:
        readings = (found[0].at(moment.timestamp()) for moment in times)
        values = [None if value is None else value * scale for value in readings]
    return {"times": [moment.timestamp() for moment in times], "values": values, "problem": ""}
