"""Over what a view reads a Canary's metrics: the rate window, and the time range of the charts.

Shared by `canary describe` and the dashboard's page of one Canary, so both show the same
numbers over the same time. Pure: the callers read the Canary and its events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from canary.metrics.builtin import REQUEST_SUCCESS_RATE
from canary.metrics.inputs import DEFAULT_INTERVAL
from canary.views.timeline import EventView, releases

CHART_LEAD = timedelta(seconds=30)  # shown before the latest release started
CHART_DEFAULT = timedelta(minutes=10)  # shown when no release is in the events
CHART_LONGEST = timedelta(hours=1)
CHART_SHORTEST = timedelta(minutes=1)


def rate_window(spec: Mapping[str, Any]) -> str:
    """The interval of the Canary's success-rate check, so the numbers match what it judges."""
    for metric in (spec.get("analysis") or {}).get("metrics") or []:
        if metric.get("name") == REQUEST_SUCCESS_RATE and metric.get("interval"):
            return str(metric["interval"])
    return DEFAULT_INTERVAL


def chart_start(events: Sequence[EventView], *, now: datetime) -> datetime:
    """Where the charts start: a little before the latest release, within bounds."""
    groups = releases(events)
    started = groups[-1].started if groups else None
    start = now - CHART_DEFAULT if started is None else started - CHART_LEAD
    return min(max(start, now - CHART_LONGEST), now - CHART_SHORTEST)
