"""A Canary's history from its events: which events, in which order, in which release."""

from __future__ import annotations

from datetime import timedelta

from canary.views.timeline import events_about, releases, weight_at, weight_changes
from tests.unit.cli.objects import NOW, event

REVISION = "d4d4d4d4d4d4d4d4"
HISTORY = [
    event("Synced", "Initialization done; the primary runs revision b2b2", seconds_ago=300),
    event("NewRevision", f"New revision {REVISION} detected, starting analysis", seconds_ago=60),
    event("Advance", "Advanced canary weight to 10", seconds_ago=50, version=3),
    event("CheckFailed", "Check failed (1/2)", seconds_ago=50, version=4, warning=True),
    event("Advance", "Advanced canary weight to 30", seconds_ago=40),
    event("Promoting", f"Checks passed; promoting revision {REVISION}", seconds_ago=30),
    event("Advance", "Advanced primary weight to 80", seconds_ago=25),
    event(
        "Promoting",
        f"The primary runs revision {REVISION}; routing all traffic to it",
        seconds_ago=20,
    ),
    event("Succeeded", f"Promotion of revision {REVISION} completed", seconds_ago=19),
]


def test_only_events_about_this_canary_are_kept_in_time_order() -> None:
    listed = [
        *reversed(HISTORY),
        event("Advance", "about another canary", seconds_ago=10, name="other"),
        event("Advance", "about an earlier canary of this name", seconds_ago=10, uid="uid-0"),
        {**event("Scheduled", "a pod", seconds_ago=10), "involvedObject": {"kind": "Pod"}},
    ]
    events = events_about(listed, name="podinfo", uid="uid-1")
    assert [e.message for e in events] == [e["message"] for e in HISTORY]
    same_second = [e.reason for e in events if e.at == NOW - timedelta(seconds=50)]
    assert same_second == ["Advance", "CheckFailed"], "ties are broken by resourceVersion"
    assert events[3].warning


def test_releases_start_at_a_new_revision_and_name_it_and_their_phases() -> None:
    initialization, release = releases(events_about(HISTORY, name="podinfo"))
    assert initialization.revision == ""
    assert initialization.phases == ("Initialized",)
    assert release.revision == REVISION
    assert release.started == NOW - timedelta(seconds=60)
    assert release.phases == ("Progressing", "Promoting", "Succeeded")


def test_a_retry_announced_twice_is_one_release() -> None:
    retried = [
        event("Rollback", "Rolling back revision d4d4d4d4d4d4d4d4", seconds_ago=40),
        event(
            "NewRevision", f"New revision {REVISION} detected, starting analysis", seconds_ago=30
        ),
        event("Retry", f"Retrying revision {REVISION} by request", seconds_ago=30),
        event("Advance", "Advanced canary weight to 10", seconds_ago=20),
    ]
    groups = releases(events_about(retried, name="podinfo"))
    assert [len(group.events) for group in groups] == [1, 3]
    assert groups[-1].revision == REVISION


def test_the_weight_over_time_is_read_from_the_events() -> None:
    changes = weight_changes(events_about(HISTORY, name="podinfo"))
    assert [weight for _, weight in changes] == [0, 0, 10, 30, 20, 0, 0]
    assert weight_at(changes, NOW - timedelta(seconds=400)) is None
    assert weight_at(changes, NOW - timedelta(seconds=45)) == 10
    assert weight_at(changes, NOW - timedelta(seconds=22)) == 20
    assert weight_at(changes, NOW) == 0
