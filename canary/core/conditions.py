"""The Canary's status conditions, computed from the core's state: `Ready` and `Promoted`.

`Ready` is what kstatus (Flux, Argo CD health checks) reads: True once the canary rests in a good
state (Initialized, Succeeded), False when the last run failed, Unknown while anything is in
flight. `Promoted` keeps Flagger's meaning for users moving over: its reason is the phase, its
status follows Flagger's table (True on Initialized and Succeeded, False on Failed, else Unknown).

Pure: the shell stamps `lastTransitionTime` with `transition_time`, passing the time in. Problems
only the shell can see (a missing target Deployment, an unknown MetricTemplate) are its own
`Ready=False` conditions and override these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import assert_never

from canary.core.model import CanaryState, Phase


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class ConditionType(StrEnum):
    READY = "Ready"
    PROMOTED = "Promoted"


@dataclass(frozen=True)
class Condition:
    """One status condition, without its lastTransitionTime (see `transition_time`)."""

    type: ConditionType
    status: ConditionStatus
    reason: str
    message: str
    observed_generation: int


def conditions(state: CanaryState, generation: int) -> tuple[Condition, ...]:
    """The `Ready` and `Promoted` conditions for `state`, observed at `generation`."""
    status, promoted_message = _by_phase(state.phase)
    reason = str(state.phase)
    ready = Condition(
        type=ConditionType.READY,
        status=status,
        reason=reason,
        message=state.message or promoted_message,
        observed_generation=generation,
    )
    promoted = Condition(
        type=ConditionType.PROMOTED,
        status=status,
        reason=reason,
        message=promoted_message,
        observed_generation=generation,
    )
    return (ready, promoted)


def transition_time(
    *,
    previous_status: str | None,
    previous_time: datetime | None,
    status: str,
    now: datetime,
) -> datetime:
    """A condition's lastTransitionTime: kept while its status stays the same, else `now`."""
    if previous_time is not None and previous_status == status:
        return previous_time
    return now


def _by_phase(phase: Phase) -> tuple[ConditionStatus, str]:  # noqa: PLR0911 - one return per phase
    match phase:
        case Phase.INITIALIZING:
            return ConditionStatus.UNKNOWN, "New canary detected, initializing."
        case Phase.INITIALIZED:
            return ConditionStatus.TRUE, "Initialization completed."
        case Phase.WAITING | Phase.WAITING_PROMOTION:
            return ConditionStatus.UNKNOWN, "Waiting for approval."
        case Phase.PROGRESSING:
            return ConditionStatus.UNKNOWN, "New revision detected, analysis in progress."
        case Phase.PROMOTING:
            return ConditionStatus.UNKNOWN, "Analysis passed, the primary is being updated."
        case Phase.FINALISING:
            return ConditionStatus.UNKNOWN, "Analysis passed, routing all traffic to the primary."
        case Phase.SUCCEEDED:
            return ConditionStatus.TRUE, "Analysis passed and promotion finished."
        case Phase.FAILED:
            return ConditionStatus.FALSE, "Analysis failed, traffic is back on the primary."
        case Phase.TERMINATING | Phase.TERMINATED:
            return ConditionStatus.UNKNOWN, "The canary is being deleted."
        case _:
            assert_never(phase)
