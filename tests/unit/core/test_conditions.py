"""Ready and Promoted conditions by phase (kstatus for Flux/Argo CD, Flagger's Promoted table)."""

from __future__ import annotations

from datetime import datetime

import pytest

from canary.core.conditions import (
    ConditionStatus,
    ConditionType,
    conditions,
    transition_time,
)
from canary.core.model import CanaryState, Phase
from tests.unit.core.world import T0, ago

T, F, U = ConditionStatus.TRUE, ConditionStatus.FALSE, ConditionStatus.UNKNOWN

TABLE = {
    Phase.INITIALIZING: U,
    Phase.INITIALIZED: T,
    Phase.WAITING: U,
    Phase.PROGRESSING: U,
    Phase.WAITING_PROMOTION: U,
    Phase.PROMOTING: U,
    Phase.FINALISING: U,
    Phase.SUCCEEDED: T,
    Phase.FAILED: F,
    Phase.TERMINATING: U,
    Phase.TERMINATED: U,
}


def test_every_phase_is_in_the_table() -> None:
    assert set(TABLE) == set(Phase)


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_status_and_reason_by_phase(phase: Phase) -> None:
    ready, promoted = conditions(CanaryState(phase=phase), 7)

    assert (ready.type, promoted.type) == (ConditionType.READY, ConditionType.PROMOTED)
    assert ready.status is promoted.status is TABLE[phase]
    assert ready.reason == promoted.reason == str(phase)
    assert ready.observed_generation == promoted.observed_generation == 7
    assert ready.message
    assert promoted.message


def test_ready_carries_the_states_message() -> None:
    state = CanaryState(phase=Phase.FAILED, message="Rolling back: request-success-rate = 87.5")

    ready, promoted = conditions(state, 1)

    assert ready.message == state.message
    assert promoted.message != state.message


@pytest.mark.parametrize(
    ("previous", "status", "expected"),
    [
        (("True", ago(60)), "True", ago(60)),
        (("True", ago(60)), "False", T0),
        ((None, None), "True", T0),
    ],
    ids=["unchanged: kept", "changed: now", "new: now"],
)
def test_transition_time(
    previous: tuple[str | None, datetime | None], status: str, expected: datetime
) -> None:
    previous_status, previous_time = previous
    assert (
        transition_time(
            previous_status=previous_status,
            previous_time=previous_time,
            status=status,
            now=T0,
        )
        == expected
    )
