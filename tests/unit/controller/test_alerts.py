"""Which alerts an event reaches: by severity, and gate waits muted by `muteAlert`; an
unusable provider's condition and its one Warning event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from canary.api.canary import Canary
from canary.api.status import CanaryStatus
from canary.controller.alerts import ProviderProblem, alert_warnings, alerts_ready, wanted
from canary.core.conditions import ConditionType

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "podinfo" / "canary.yaml"


def _canary(**analysis: Any) -> Canary:
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["spec"]["analysis"].update(analysis)
    return Canary.model_validate(manifest)


ALERTS = [
    {"name": "all", "severity": "info", "providerRef": {"name": "p"}},
    {"name": "warnings", "severity": "warn", "providerRef": {"name": "p"}},
    {"name": "pager", "severity": "error", "providerRef": {"name": "p"}},
]


def test_each_alert_gets_events_from_its_severity_up() -> None:
    canary = _canary(alerts=ALERTS)
    assert wanted(canary, "Succeeded") == [("all", "info")]
    assert wanted(canary, "CheckFailed") == [("all", "warn"), ("warnings", "warn")]
    assert [name for name, _ in wanted(canary, "Rollback")] == ["all", "warnings", "pager"]
    assert wanted(canary, "Advance") == []  # steps are events, not alerts


def test_mute_alert_on_a_gate_silences_its_waits_only() -> None:
    gate = {"name": "g", "type": "confirm-rollout", "url": "http://127.0.0.1:9/", "muteAlert": True}
    canary = _canary(alerts=ALERTS, webhooks=[gate])
    assert wanted(canary, "Waiting") == []
    assert wanted(canary, "Succeeded") == [("all", "info")]


def test_an_alert_problem_is_warned_once_per_distinct_message() -> None:
    missing = ProviderProblem("AlertProviderNotFound", "AlertProvider shop/slack does not exist")
    problem = alerts_ready([("team", missing)], 3)
    assert (problem.status.value, problem.reason) == ("False", "AlertProviderNotFound")
    assert problem.message.startswith("alert 'team': AlertProvider shop/slack does not exist")
    notes = {ConditionType.ALERTS_READY: problem}

    assert alert_warnings(CanaryStatus(), notes) == [(problem.reason, problem.message)]
    shown = CanaryStatus.model_validate(
        {
            "conditions": [
                {
                    "type": "AlertsReady",
                    "status": "False",
                    "reason": problem.reason,
                    "message": problem.message,
                    "lastTransitionTime": "2026-11-25T12:00:00Z",
                }
            ]
        }
    )
    assert alert_warnings(shown, notes) == []  # the same problem again: no new event
    other = alerts_ready([("pager", missing)], 3)
    assert alert_warnings(shown, {ConditionType.ALERTS_READY: other}) != []
    fine = alerts_ready([], 3)
    assert fine.status.value == "True"
    assert alert_warnings(shown, {ConditionType.ALERTS_READY: fine}) == []
