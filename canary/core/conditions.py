"""The Canary's status conditions, computed from the core's state, following kstatus.

Flux judges custom resources with kstatus (`sigs.k8s.io/cli-utils/pkg/kstatus`), and Argo CD
with the health script in examples/argocd that reads the same: a `Stalled=True` condition reads
Failed, `Reconciling=True` reads InProgress, and otherwise `Ready` decides (True: Current; False
or Unknown: InProgress). Both abnormal-true conditions are present only while true, as
kstatus's convention asks. So:

- a release in flight (Initializing, Waiting, Progressing, WaitingPromotion, Promoting,
  Finalising, Terminating): `Reconciling=True`, `Ready=Unknown`;
- a rolled-back release (Failed): `Stalled=True`, `Ready=False`;
- a Canary at rest in a good state (Initialized, Succeeded): `Ready=True`, nothing abnormal;
- a phase that holds for something outside the controller (`state.hold_reason`: the primary
  of an initialization is not ready): `Ready=False` with that reason, `Reconciling=True`, and
  `Stalled=True` instead once the wait outlasts the progress deadline (`state.stalled`);
- a Canary the controller refuses or cannot move (`refused`: InvalidSpec, Unsupported,
  Conflict, CannotProceed, cycles failing again and again): `Stalled=True`, `Ready=False`.

`Promoted` keeps Flagger's meaning for users moving over: its reason is the phase, its status
follows Flagger's table (True on Initialized and Succeeded, False on Failed, else Unknown).

Pure: the shell stamps `lastTransitionTime` with `transition_time`, passing the time in.
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
    RECONCILING = "Reconciling"
    STALLED = "Stalled"
    ALERTS_READY = "AlertsReady"
    FIELDS_HONORED = "FieldsHonored"


# What the phase-derived conditions decide; any other condition is the shell's own.
PHASE_CONDITIONS = frozenset(
    {
        ConditionType.READY,
        ConditionType.PROMOTED,
        ConditionType.RECONCILING,
        ConditionType.STALLED,
    }
)


@dataclass(frozen=True)
class Condition:
    """One status condition, without its lastTransitionTime (see `transition_time`)."""

    type: ConditionType
    status: ConditionStatus
    reason: str
    message: str
    observed_generation: int


def conditions(state: CanaryState, generation: int) -> tuple[Condition, ...]:
    """`Ready`, `Promoted` and the abnormal-true one (if any) for `state`, at `generation`."""
    status, promoted_message = _by_phase(state.phase)
    reason = str(state.phase)
    message = state.message or promoted_message
    promoted = Condition(ConditionType.PROMOTED, status, reason, promoted_message, generation)
    if state.hold_reason:
        hold, abnormal = state.hold_reason, _abnormal(state.phase)
        if state.stalled:
            abnormal = ConditionType.STALLED
        ready = Condition(ConditionType.READY, ConditionStatus.FALSE, hold, message, generation)
        if abnormal is None:
            return (ready, promoted)
        why = Condition(abnormal, ConditionStatus.TRUE, hold, message, generation)
        return (ready, promoted, why)
    ready = Condition(ConditionType.READY, status, reason, message, generation)
    abnormal = _abnormal(state.phase)
    if abnormal is None:
        return (ready, promoted)
    return (ready, promoted, Condition(abnormal, ConditionStatus.TRUE, reason, message, generation))


def refused(reason: str, message: str, generation: int) -> tuple[Condition, ...]:
    """`Ready=False` and `Stalled=True` with `reason`: the controller cannot move this Canary
    until something changes (its spec, another object, the controller's permissions)."""
    return (
        Condition(ConditionType.READY, ConditionStatus.FALSE, reason, message, generation),
        Condition(ConditionType.STALLED, ConditionStatus.TRUE, reason, message, generation),
    )


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


def _abnormal(phase: Phase) -> ConditionType | None:
    match phase:
        case Phase.INITIALIZED | Phase.SUCCEEDED | Phase.TERMINATED:
            return None
        case Phase.FAILED:
            return ConditionType.STALLED
        case (
            Phase.INITIALIZING
            | Phase.WAITING
            | Phase.PROGRESSING
            | Phase.WAITING_PROMOTION
            | Phase.PROMOTING
            | Phase.FINALISING
            | Phase.TERMINATING
        ):
            return ConditionType.RECONCILING
        case _:
            assert_never(phase)


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
            return ConditionStatus.FALSE, "The release failed, traffic is back on the primary."
        case Phase.TERMINATING | Phase.TERMINATED:
            return ConditionStatus.UNKNOWN, "The canary is being deleted."
        case _:
            assert_never(phase)
