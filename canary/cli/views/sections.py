"""The text of `canary describe`: the Canary, its checks, its recent releases and its metrics.

Pure: `describe.py` reads the Canary, its events and Prometheus, and hands the results here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canary.controller.manual import requests_of
from canary.core.redaction import redact_url
from canary.views.golden import Chart, Golden, Reading, Unavailable
from canary.views.summary import CanarySummary, summary_of
from canary.views.text import (
    CROSS,
    NO_VALUE,
    TICK,
    age,
    clock,
    fields,
    number,
    sparkline,
    table,
    truncate,
    value_range,
)
from canary.views.timeline import EventView, Release, releases, weight_at, weight_changes

RELEASES_SHOWN = 2
EVENT_MESSAGE_WIDTH = 200
CHECK_MESSAGE_WIDTH = 100
WEBHOOK_CHECK = " webhook "  # webhook results are checks named "<type> webhook <name>"


@dataclass(frozen=True)
class Described:
    """Everything `describe` read, ready to print."""

    canary: Mapping[str, Any]
    events: Sequence[EventView]
    metrics: Golden | Unavailable
    prometheus_url: str
    now: datetime
    events_problem: str = ""  # why the events could not be read


def render(described: Described) -> str:
    summary = summary_of(described.canary)
    parts = [
        _header(described.canary, summary, now=described.now),
        _conditions(summary, now=described.now),
        _checks(summary),
        _webhooks(described.canary, summary),
        _timeline(described.events, problem=described.events_problem),
        _metrics(described),
    ]
    return "\n\n".join(part for part in parts if part) + "\n"


def _header(canary: Mapping[str, Any], summary: CanarySummary, *, now: datetime) -> str:
    spec = canary.get("spec") or {}
    target_ref = spec.get("targetRef") or {}
    target = str(target_ref.get("name") or NO_VALUE)
    kind = str(target_ref.get("kind") or "Deployment")
    annotations = (canary.get("metadata") or {}).get("annotations") or {}
    since = summary.phase_since or summary.last_transition
    rows = [
        ("Name", summary.name),
        ("Namespace", summary.namespace),
        ("Target", f"{kind}/{target} (primary: {target}-primary)"),
        ("Provider", str(spec.get("provider") or "the controller's default")),
        ("Strategy", strategy(spec.get("analysis") or {})),
        (
            "Phase",
            f"{summary.phase or 'not reconciled yet'} since {clock(since)} ({age(since, now)})",
        ),
        ("Traffic", f"primary {100 - summary.weight}%, canary {summary.weight}%"),
        ("Failed checks", f"{summary.failed_checks}/{summary.threshold}"),
        ("Primary runs", summary.promoted_revision or NO_VALUE),
        ("Analysed", summary.applied_revision or NO_VALUE),
    ]
    iterations = (canary.get("status") or {}).get("iterations")
    if (spec.get("analysis") or {}).get("iterations"):
        rows.append(("Iterations", f"{iterations or 0}/{spec['analysis']['iterations']}"))
    manual = requests_of({str(k): str(v) for k, v in annotations.items()})
    requested = [
        label
        for label, asked in (
            ("paused", manual.paused),
            (f"abort {manual.abort_revision}", manual.abort_revision),
            (f"promote {manual.promote_revision}", manual.promote_revision),
            (f"retry {manual.retry_revision}", manual.retry_revision),
        )
        if asked
    ]
    if requested:
        rows.append(("Requests", ", ".join(requested)))
    if spec.get("suspend"):
        rows.append(("Suspended", "yes: the controller leaves this Canary alone"))
    return fields(rows)


def strategy(analysis: Mapping[str, Any]) -> str:
    """The analysis in one line: how traffic moves, how often, and when it rolls back."""
    every = f"every {analysis.get('interval', NO_VALUE)}"
    rollback = f"rollback after {analysis.get('threshold', 1)} failed checks"
    if weights := analysis.get("stepWeights"):
        moves = "canary: weights " + ", ".join(str(w) for w in weights)
    elif step := analysis.get("stepWeight"):
        moves = f"canary: +{step}% up to {analysis.get('maxWeight', 100)}%"
    elif analysis.get("match"):
        moves = f"A/B testing: {analysis.get('iterations')} iterations"
    elif analysis.get("mirror"):
        moves = f"blue/green with mirroring: {analysis.get('iterations')} iterations"
    else:
        moves = f"blue/green: {analysis.get('iterations', NO_VALUE)} iterations"
    return f"{moves} {every}; {rollback}"


def _conditions(summary: CanarySummary, *, now: datetime) -> str:
    if not summary.conditions:
        return ""
    rows = [
        [c.type, c.status, c.reason, age(c.since, now), truncate(c.message, EVENT_MESSAGE_WIDTH)]
        for c in summary.conditions
    ]
    return "Conditions:\n" + table(
        ("TYPE", "STATUS", "REASON", "AGE", "MESSAGE"), rows, indent="  "
    )


def _checks(summary: CanarySummary) -> str:
    metrics = [check for check in summary.checks if WEBHOOK_CHECK not in check.name]
    if not metrics:
        return "Checks: none run yet"
    rows = [
        [
            check.name,
            "no value" if check.value is None else number(check.value),
            value_range(check.minimum, check.maximum),
            TICK if check.passed else CROSS,
            clock(check.time),
            truncate(check.message, CHECK_MESSAGE_WIDTH) if not check.passed else "",
        ]
        for check in metrics
    ]
    headers = ("CHECK", "VALUE", "ACCEPTED", "OK", "AT", "WHY IT FAILED")
    return "Checks (latest):\n" + table(headers, rows, indent="  ")


def _webhooks(canary: Mapping[str, Any], summary: CanarySummary) -> str:
    hooks = ((canary.get("spec") or {}).get("analysis") or {}).get("webhooks") or []
    if not hooks:
        return ""
    results = {check.name: check for check in summary.checks if WEBHOOK_CHECK in check.name}
    rows = []
    for hook in hooks:
        kind, name = str(hook.get("type") or "rollout"), str(hook.get("name") or "")
        result = results.get(f"{kind}{WEBHOOK_CHECK}{name}")
        if result is None:
            last = NO_VALUE
        else:
            mark = TICK if result.passed else f"{CROSS} {truncate(result.message, 80)}"
            last = f"{clock(result.time)} {mark}"
        rows.append([name, kind, str(hook.get("url") or ""), last])
    return "Webhooks:\n" + table(("NAME", "TYPE", "URL", "LAST CALL"), rows, indent="  ")


def _timeline(events: Sequence[EventView], *, problem: str = "") -> str:
    title = "Timeline (UTC; the API server keeps events for about an hour):"
    if not events:
        return f"{title}\n  {problem or 'no events'}"
    groups = releases(events)
    shown = groups[-RELEASES_SHOWN:]
    lines = [title]
    if hidden := len(groups) - len(shown):
        lines.append(f"  ({hidden} earlier release{'s' if hidden > 1 else ''} not shown)")
    for index, release in enumerate(shown):
        latest = index == len(shown) - 1
        lines.append(f"  {_release_title(release, latest=latest)}")
        rows = [
            [
                clock(event.at),
                "Warning" if event.warning else "Normal",
                event.reason,
                truncate(event.message, EVENT_MESSAGE_WIDTH)
                + (f" (x{event.count})" if event.count > 1 else ""),
            ]
            for event in release.events
        ]
        lines.append(table(("TIME", "TYPE", "REASON", "MESSAGE"), rows, indent="    "))
    return "\n".join(lines)


def _release_title(release: Release, *, latest: bool) -> str:
    which = "latest" if latest else "previous"
    what = f"release of revision {release.revision}" if release.revision else "initialization"
    phases = " -> ".join(release.phases) or NO_VALUE
    return f"{which} {what}, from {clock(release.started)}: {phases}"


def _metrics(described: Described) -> str:
    metrics = described.metrics
    title = f"Metrics (Prometheus {redact_url(described.prometheus_url) or NO_VALUE})"
    if isinstance(metrics, Unavailable):
        return f"{title}: unavailable: {metrics.reason}"
    spec = described.canary.get("spec") or {}
    target = str((spec.get("targetRef") or {}).get("name") or NO_VALUE)
    headers = ("", f"PRIMARY ({target}-primary)", f"CANARY ({target})")
    rows = [
        [
            "request rate",
            _reading(metrics.primary.request_rate, "/s"),
            _reading(metrics.canary.request_rate, "/s"),
        ],
        [
            "success rate",
            _reading(metrics.primary.success_rate, "%"),
            _reading(metrics.canary.success_rate, "%"),
        ],
        [
            f"{metrics.latency} latency",
            _reading(metrics.primary.latency_p99, " ms"),
            _reading(metrics.canary.latency_p99, " ms"),
        ],
    ]
    lines = [f"{title}, rates over {metrics.window}:", table(headers, rows, indent="  ")]
    problems = [
        f"  {side} {what}: {reading.problem}"
        for side, signals in (("primary", metrics.primary), ("canary", metrics.canary))
        for what, reading in (
            ("request rate", signals.request_rate),
            ("success rate", signals.success_rate),
            (f"{metrics.latency} latency", signals.latency_p99),
        )
        if reading.problem
    ]
    if problems:
        lines.append("No value for:")
        lines.extend(problems)
    lines.append(_charts(metrics.success_over_time, described.events))
    return "\n".join(lines)


def _reading(reading: Reading, unit: str) -> str:
    return NO_VALUE if reading.value is None else f"{number(reading.value)}{unit}"


def _charts(chart: Chart, events: Sequence[EventView]) -> str:
    if chart.problem:
        return f"Over time: unavailable: {chart.problem}"
    title = (
        f"Over time, {clock(chart.times[0])} to {clock(chart.times[-1])} UTC, "
        f"one point every {chart.step}s:"
    )
    rows = []
    changes = weight_changes(events)
    if changes:
        weights = [weight_at(changes, moment) for moment in chart.times]
        values = [None if w is None else float(w) for w in weights]
        rows.append(["canary weight", sparkline(values, low=0, high=100), "0 to 100%"])
    else:
        rows.append(["canary weight", "not recoverable from the events", ""])
    measured = [v for v in (*chart.primary, *chart.canary) if v is not None]
    if measured:
        low, high = min(measured), max(measured)
        scale = f"{number(low)}%" if low == high else f"{number(low)} to {number(high)}%"
        rows.append(["success rate, primary", sparkline(chart.primary, low=low, high=high), scale])
        rows.append(["success rate, canary", sparkline(chart.canary, low=low, high=high), scale])
    else:
        rows.append(["success rate", "no data in this range", ""])
    return title + "\n" + table(("", "", ""), rows, indent="  ", titled=False)
