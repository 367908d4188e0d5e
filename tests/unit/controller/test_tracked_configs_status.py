"""`status.trackedConfigs` names the configs of the analysed revision, and is kept otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

from canary.api.status import CanaryStatus
from canary.controller.convert import status_of
from canary.core.model import CanaryState, Phase

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STATE = CanaryState(phase=Phase.PROGRESSING, phase_since=NOW, last_applied_revision="b" * 16)
CONFIGS = {"configmap/settings": "15d67cafeba2dc9c", "secret/token": "0123456789abcdef"}


def test_the_status_records_the_tracked_configs_it_is_given() -> None:
    manifest = status_of(
        STATE,
        previous=CanaryStatus(),
        generation=1,
        now=NOW,
        checked_at=None,
        tracked_configs=CONFIGS,
    )
    assert manifest["trackedConfigs"] == CONFIGS
    assert CanaryStatus.model_validate(manifest).tracked_configs == CONFIGS


def test_without_new_ones_the_previous_tracked_configs_are_kept() -> None:
    previous = CanaryStatus(tracked_configs=CONFIGS)
    manifest = status_of(STATE, previous=previous, generation=1, now=NOW, checked_at=None)
    assert manifest["trackedConfigs"] == CONFIGS


def test_no_tracked_configs_clears_them() -> None:
    previous = CanaryStatus(tracked_configs=CONFIGS)
    manifest = status_of(
        STATE, previous=previous, generation=1, now=NOW, checked_at=None, tracked_configs={}
    )
    assert not manifest.get("trackedConfigs")
