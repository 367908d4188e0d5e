"""Which alerts an event reaches: by severity, and gate waits muted by `muteAlert`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from canary.api.canary import Canary
from canary.controller.alerts import wanted

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
