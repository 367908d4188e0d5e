"""Ready and Promoted conditions by phase (kstatus for Flux/Argo CD, Flagger's Promoted table)."""

from __future__ import annotations

from datetime import datetime

import pytest

from canary.core.conditions import (
    ConditionStatus,
    ConditionType,
    conditions,
    refused,
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
    ready, promoted, *_abnormal = conditions(CanaryState(phase=phase), 7)

    assert (ready.type, promoted.type) == (ConditionType.READY, ConditionType.PROMOTED)
    assert ready.status is promoted.status is TABLE[phase]
    assert ready.reason == promoted.reason == str(phase)
    assert ready.observed_generation == promoted.observed_generation == 7
    assert ready.message
    assert promoted.message


def test_ready_carries_the_states_message() -> None:
    state = CanaryState(phase=Phase.FAILED, message="Rolling back: request-success-rate = 87.5")

    ready, promoted, stalled = conditions(state, 1)

    assert ready.message == state.message
    assert promoted.message != state.message
    assert stalled.message == state.message


# kstatus's abnormal-true conditions: Stalled reads Failed, Reconciling InProgress, and a Ready
# canary with neither reads Current.
ABNORMAL = {
    Phase.INITIALIZING: ConditionType.RECONCILING,
    Phase.INITIALIZED: None,
    Phase.WAITING: ConditionType.RECONCILING,
    Phase.PROGRESSING: ConditionType.RECONCILING,
    Phase.WAITING_PROMOTION: ConditionType.RECONCILING,
    Phase.PROMOTING: ConditionType.RECONCILING,
    Phase.FINALISING: ConditionType.RECONCILING,
    Phase.SUCCEEDED: None,
    Phase.FAILED: ConditionType.STALLED,
    Phase.TERMINATING: ConditionType.RECONCILING,
    Phase.TERMINATED: None,
}


@pytest.mark.parametrize("phase", list(Phase), ids=str)
def test_abnormal_true_condition_by_phase(phase: Phase) -> None:
    found = conditions(CanaryState(phase=phase), 3)[2:]

    expected = ABNORMAL[phase]
    assert [c.type for c in found] == ([] if expected is None else [expected])
    assert all(c.status is T and c.reason == str(phase) for c in found)


def test_refused_is_not_ready_and_stalled() -> None:
    ready, stalled = refused("InvalidSpec", "spec.analysis.interval: too short", 4)

    assert (ready.type, ready.status) == (ConditionType.READY, F)
    assert (stalled.type, stalled.status) == (ConditionType.STALLED, T)
    assert ready.reason == stalled.reason == "InvalidSpec"
    assert ready.message == stalled.message == "spec.analysis.interval: too short"


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


@pytest.mark.parametrize(("stalled", "abnormal"), [(False, "Reconciling"), (True, "Stalled")])
def test_a_held_phase_reads_not_ready_with_its_reason(
    stalled: bool,  # noqa: FBT001 - a parameter of the table
    abnormal: str,
) -> None:
    state = CanaryState(
        phase=Phase.INITIALIZING,
        message="Waiting for the primary to be ready",
        hold_reason="PrimaryNotReady",
        stalled=stalled,
    )

    ready, promoted, other = conditions(state, 2)

    assert (ready.status, ready.reason, ready.message) == (F, "PrimaryNotReady", state.message)
    assert (promoted.status, promoted.reason) == (U, "Initializing")
    assert (other.type, other.status, other.reason) == (abnormal, T, "PrimaryNotReady")
    assert "nalysis" not in promoted.message
