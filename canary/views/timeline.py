"""A Canary's history, rebuilt from the Kubernetes events the controller recorded about it.

The status holds only the present; the events hold what happened (until the API server expires
them, an hour by default). They are grouped into releases, each starting where the controller
announced a new revision (or a retry), and give back the phases a release went through and the
canary weight over time. The weights are read from the controller's event messages ("Advanced
canary weight to 30"); an event this module does not know leaves the weight as it was. Pure:
the caller lists the events (`EVENTS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from canary.kube.resources import ResourceKind
from canary.views.summary import timestamp

EVENTS: Final = ResourceKind("v1", "Event", "events")  # what the caller lists

TOTAL = 100
# Reasons that start a release (canary.core.transitions.Reason).
STARTS = frozenset({"NewRevision", "Retry"})
# The phase each reason announces; reasons absent here announce none.
PHASE_OF_REASON: Mapping[str, str] = {
    "Synced": "Initialized",
    "Reverted": "Initialized",
    "NewRevision": "Progressing",
    "Retry": "Progressing",
    "Waiting": "Waiting",
    "WaitingPromotion": "WaitingPromotion",
    "Promoting": "Promoting",
    "Succeeded": "Succeeded",
    "Rollback": "Failed",
    "Aborted": "Failed",
    "DeadlineExceeded": "Failed",
}
# Reasons after which all traffic is on the primary.
ALL_ON_PRIMARY = frozenset(
    {"Synced", "NewRevision", "Retry", "Succeeded", "Rollback", "Aborted", "DeadlineExceeded"}
)
_CANARY_WEIGHT = re.compile(r"^Advanced canary weight to (\d+)")
_PRIMARY_WEIGHT = re.compile(r"^Advanced primary weight to (\d+)")
_ALL_TO_CANARY = re.compile(r"^Routing (all traffic|the requests that match) to the canary")
_ALL_TO_PRIMARY = re.compile(r"routing all traffic to it$")
_REVISION = re.compile(r"\brevision ([0-9a-f]{6,64})\b")


@dataclass(frozen=True)
class EventView:
    at: datetime | None
    reason: str
    message: str
    warning: bool
    count: int = 1


@dataclass(frozen=True)
class Release:
    """The events of one release, in time order (the first group may be the initialization)."""

    events: tuple[EventView, ...]

    @property
    def revision(self) -> str:
        """The revision this release is about, as its starting events name it ("" if none)."""
        for event in self.events:
            if event.reason not in STARTS:
                break
            if found := _REVISION.search(event.message):
                return found.group(1)
        return ""

    @property
    def started(self) -> datetime | None:
        return next((event.at for event in self.events if event.at is not None), None)

    @property
    def phases(self) -> tuple[str, ...]:
        """The phases its events announce, without repeats in a row."""
        phases: list[str] = []
        for event in self.events:
            phase = PHASE_OF_REASON.get(event.reason)
            if phase is not None and (not phases or phases[-1] != phase):
                phases.append(phase)
        return tuple(phases)


def events_about(
    objects: Iterable[Mapping[str, Any]], *, name: str, uid: str = ""
) -> list[EventView]:
    """The events about the Canary `name` (with `uid`, when both know it) in time order."""
    chosen = []
    for obj in objects:
        involved = obj.get("involvedObject") or {}
        if involved.get("kind") != "Canary" or involved.get("name") != name:
            continue
        if uid and involved.get("uid") and involved.get("uid") != uid:
            continue  # about an earlier Canary of the same name
        chosen.append(obj)
    chosen.sort(key=_order)
    return [_view(obj) for obj in chosen]


def releases(events: Sequence[EventView]) -> list[Release]:
    """`events` split where a release starts (a retry announces its new run twice, NewRevision
    then Retry: starts in a row begin one release)."""
    groups: list[list[EventView]] = []
    for event in events:
        started = bool(groups) and all(e.reason in STARTS for e in groups[-1])
        if not groups or (event.reason in STARTS and not started):
            groups.append([])
        groups[-1].append(event)
    return [Release(tuple(group)) for group in groups]


def weight_changes(events: Sequence[EventView]) -> list[tuple[datetime, int]]:
    """(time, canary weight) at each event that moved the weight, in time order."""
    changes = []
    for event in events:
        weight = _weight_after(event)
        if weight is not None and event.at is not None:
            changes.append((event.at, weight))
    return changes


def weight_at(changes: Sequence[tuple[datetime, int]], moment: datetime) -> int | None:
    """The canary weight at `moment` (the last change at or before it), None before any."""
    weight = None
    for at, value in changes:
        if at > moment:
            break
        weight = value
    return weight


def _weight_after(event: EventView) -> int | None:  # noqa: PLR0911 - one return per message
    if event.reason in ALL_ON_PRIMARY:
        return 0
    if event.reason == "Promoting" and _ALL_TO_PRIMARY.search(event.message):
        return 0
    if event.reason != "Advance":
        return None
    if found := _CANARY_WEIGHT.match(event.message):
        return int(found.group(1))
    if found := _PRIMARY_WEIGHT.match(event.message):
        return TOTAL - int(found.group(1))
    if _ALL_TO_CANARY.match(event.message):
        return TOTAL
    return None


def _time(obj: Mapping[str, Any]) -> datetime | None:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        if (found := timestamp(obj.get(key))) is not None:
            return found
    return timestamp((obj.get("metadata") or {}).get("creationTimestamp"))


def _order(obj: Mapping[str, Any]) -> tuple[float, int]:
    """By time; events of the same second by resourceVersion (etcd's write order, which the API
    server does not promise but which is the best evidence there is)."""
    at = _time(obj)
    version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
    return (at.timestamp() if at is not None else 0.0, int(version) if version.isdigit() else 0)


def _view(obj: Mapping[str, Any]) -> EventView:
    count = obj.get("count")
    return EventView(
        at=_time(obj),
        reason=str(obj.get("reason") or ""),
        message=str(obj.get("message") or ""),
        warning=obj.get("type") == "Warning",
        count=count if isinstance(count, int) and count > 0 else 1,
    )
