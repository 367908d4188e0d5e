"""A Canary (and its events) as the plain JSON the pages show and scripts read.

The projections are made of the readings `canary get|describe` print too
(`canary.views.summary` for the status, `canary.views.timeline` for the releases and weights
rebuilt from events), so the dashboard and the CLI never disagree. Pure: the callers read the
objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import yaml

from canary.views.summary import CanarySummary, CheckView, summary_of
from canary.views.timeline import EventView, releases, weight_changes

RELEASES_SHOWN: Final = 2  # the current release and the one before
PAUSED: Final = "canary.dev/paused"

JSON = dict[str, Any]


def when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def check_json(check: CheckView) -> JSON:
    return {
        "name": check.name,
        "value": check.value,
        "passed": check.passed,
        "message": check.message,
        "min": check.minimum,
        "max": check.maximum,
        "time": when(check.time),
    }


def row(obj: Mapping[str, Any]) -> JSON:
    """One line of the list: what `canary get` shows, as JSON."""
    summary = summary_of(obj)
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    paused = str(annotations.get(PAUSED, "")).lower() == "true"
    return {
        "namespace": summary.namespace,
        "name": summary.name,
        "phase": summary.phase,
        "weight": summary.weight,
        "failedChecks": summary.failed_checks,
        "threshold": summary.threshold,
        "lastTransitionTime": when(summary.last_transition),
        "message": summary.message,
        "paused": paused,
        "actions": actions_for(summary, paused=paused),
        "checks": [check_json(check) for check in summary.checks],
    }


def rows(objects: Iterable[Mapping[str, Any]], *, phase: str | None = None) -> list[JSON]:
    """The list's lines, by namespace and name; only those in `phase` when given."""
    chosen = [row(obj) for obj in objects]
    if phase:
        chosen = [line for line in chosen if line["phase"] == phase]
    return sorted(chosen, key=lambda line: (line["namespace"], line["name"]))


def actions_for(summary: CanarySummary, *, paused: bool) -> list[str]:
    """The actions that make sense for the Canary as it is (the API server still decides
    whether the person may)."""
    shown = []
    if summary.phase in ("Progressing", "WaitingPromotion"):
        shown += ["promote", "abort"]
    if summary.phase == "Failed":
        shown.append("retry")
    shown.append("resume" if paused else "pause")
    return shown


def event_json(event: EventView) -> JSON:
    return {
        "time": when(event.at),
        "reason": event.reason,
        "message": event.message,
        "warning": event.warning,
        "count": event.count,
    }


def timeline(events: Sequence[EventView]) -> list[JSON]:
    """The latest releases (newest last): revision, start, phases, events."""
    return [
        {
            "revision": release.revision,
            "started": when(release.started),
            "phases": list(release.phases),
            "events": [event_json(event) for event in release.events],
        }
        for release in releases(events)[-RELEASES_SHOWN:]
    ]


def weights(events: Sequence[EventView], *, current: int, now: datetime) -> list[tuple[float, int]]:
    """(unix time, canary weight) at each change the events tell, ending with the status' own
    weight now: the points of the weight chart (a step line)."""
    points = [(at.timestamp(), weight) for at, weight in weight_changes(events)]
    points.append((now.timestamp(), current))
    return points


def spec_yaml(obj: Mapping[str, Any]) -> str:
    """The Canary as a person would write it: metadata trimmed to what they set."""
    metadata = obj.get("metadata") or {}
    kept = {
        key: metadata[key]
        for key in ("name", "namespace", "labels", "annotations")
        if key in metadata
    }
    shown = {
        "apiVersion": obj.get("apiVersion", "canary.dev/v1alpha1"),
        "kind": obj.get("kind", "Canary"),
        "metadata": kept,
        "spec": obj.get("spec") or {},
    }
    return yaml.safe_dump(shown, sort_keys=False, default_flow_style=False)


def detail(obj: Mapping[str, Any], events: Sequence[EventView], *, now: datetime) -> JSON:
    """Everything the page of one Canary shows, but the metrics from Prometheus."""
    summary = summary_of(obj)
    line = row(obj)
    return {
        **line,
        "generation": summary.generation,
        "observedGeneration": summary.observed_generation,
        "appliedRevision": summary.applied_revision,
        "promotedRevision": summary.promoted_revision,
        "phaseSince": when(summary.phase_since),
        "conditions": [
            {
                "type": condition.type,
                "status": condition.status,
                "reason": condition.reason,
                "message": condition.message,
                "since": when(condition.since),
            }
            for condition in summary.conditions
        ],
        "releases": timeline(events),
        "weights": weights(events, current=summary.weight, now=now),
        "yaml": spec_yaml(obj),
    }
