"""`canary get`: the table, and re-printing on change only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from canary.cli.views.get import follow, render
from canary.kube.watch import WatchEvent
from canary.views.summary import CanarySummary, summary_of
from tests.unit.cli.objects import NOW, canary


def test_the_table_shows_phase_weight_failed_checks_checks_age_and_message() -> None:
    text = render([summary_of(canary())], now=NOW, all_namespaces=False)
    header, row = text.splitlines()
    assert header.split("   ")[0] == "NAME"
    for column in ("PHASE", "WEIGHT", "FAILED CHECKS", "CHECKS", "LAST TRANSITION", "MESSAGE"):
        assert column in header
    assert "NAMESPACE" not in header
    assert row.startswith("podinfo   Progressing   30       1/2")
    assert "request-success-rate=99.5✓, request-duration=?✗" in row
    assert "95s" in row
    assert row.endswith("Advanced canary weight to 30")


def test_all_namespaces_adds_the_namespace_column_first() -> None:
    text = render([summary_of(canary())], now=NOW, all_namespaces=True)
    assert text.splitlines()[0].startswith("NAMESPACE   NAME")
    assert text.splitlines()[1].startswith("shop        podinfo")


def test_a_canary_without_status_shows_dashes_and_long_messages_are_cut() -> None:
    obj = canary(phase=None, checks=[], ready=("False", "InvalidSpec", "x" * 200))
    row = render([summary_of(obj)], now=NOW, all_namespaces=False).splitlines()[1]
    assert row.split()[1] == "-"
    assert row.endswith("x" * 59 + "…")


def test_a_webhook_check_shows_its_verdict_without_a_value() -> None:
    obj = canary(checks=[{"name": "rollout webhook load-test", "value": None, "verdict": "Pass"}])
    assert summary_of(obj).compact_checks == "rollout webhook load-test✓"


async def _events(*events: WatchEvent) -> AsyncIterator[WatchEvent]:
    for event in events:
        yield event


async def test_watching_prints_again_only_when_a_row_changes() -> None:
    first = canary(weight=10)
    same_row = canary(weight=10)
    same_row["status"]["lastStepTime"] = "2026-01-02T12:00:00Z"  # not shown in the table
    moved = canary(weight=30)
    other = canary(name="other", weight=0)
    shown: list[list[CanarySummary]] = []
    await follow(
        _events(
            WatchEvent("SYNCED", items=(first,)),
            WatchEvent("MODIFIED", object=same_row),
            WatchEvent("MODIFIED", object=moved),
            WatchEvent("ADDED", object=other),
            WatchEvent("DELETED", object=other),
        ),
        name="podinfo",
        show=shown.append,
    )
    assert [[s.weight for s in table] for table in shown] == [[10], [30]]


async def test_watching_every_canary_shows_additions_and_deletions() -> None:
    first: dict[str, Any] = canary()
    other = canary(name="other")
    shown: list[list[str]] = []
    await follow(
        _events(
            WatchEvent("SYNCED", items=()),
            WatchEvent("ADDED", object=first),
            WatchEvent("ADDED", object=other),
            WatchEvent("DELETED", object=first),
        ),
        name=None,
        show=lambda summaries: shown.append([s.name for s in summaries]),
    )
    assert shown == [[], ["podinfo"], ["other", "podinfo"], ["other"]]
