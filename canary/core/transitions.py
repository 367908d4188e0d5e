"""The moves every part of the state machine shares: start a run, promote, roll back.

Each returns a whole `Decision` (the next state and the absolute actions that make it true), so
the analysis tick and the lifecycle phases build their outcomes the same way. Every phase change
goes through `enter`, which stamps `phase_since` (the progress deadline's clock) and a message.

Pure: the time comes from the observation, the actions are data the shell executes.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from canary.core.model import (
    Action,
    CanaryState,
    Decision,
    Observation,
    Phase,
    PromoteTemplate,
    RecordEvent,
    ScaleCanary,
    SetWeights,
)
from canary.core.schedule import TOTAL_WEIGHT

ALL_TO_PRIMARY = SetWeights(primary=TOTAL_WEIGHT, canary=0)
# Seconds between acknowledging a run (Progressing) and scaling its parked canary up. A burst of
# new revisions (one base image bumped in a hundred services) is then acknowledged for all of
# them before any scale-up sets off the cluster's work of starting canary pods (ReplicaSets,
# pods, scheduling, endpoints), which would slow the acknowledgements still to come: measured
# in bench/README.md ("detection"). A hundred at once at N = 1000 take 0.6 to 0.8 s to
# acknowledge on the 2-core machine when nothing else starts; at 1 s the first scale-ups came
# while the last acknowledgements were still being written, and slowed them (p99 up to 1.4 s):
# 2 s leaves that margin. A release starts that much later; its steps keep their pace.
SCALE_UP_DELAY = 2.0


class Reason(StrEnum):
    """Event reasons: stable CamelCase strings that alerts and users' scripts may match."""

    SYNCED = "Synced"  # initialization done
    REINITIALIZE = "Reinitialize"  # missing primary, services or route recreated
    NEW_REVISION = "NewRevision"
    REVERTED = "Reverted"  # the target went back to the promoted revision: nothing to analyse
    ADVANCE = "Advance"
    CHECK_FAILED = "CheckFailed"
    PROMOTING = "Promoting"
    SUCCEEDED = "Succeeded"
    ROLLBACK = "Rollback"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    ROUTE_REPAIRED = "RouteRepaired"
    WAITING = "Waiting"  # a new revision waits for the limit of progressing canaries
    PAUSED = "Paused"
    WAITING_PROMOTION = "WaitingPromotion"  # a confirm-promotion webhook has not approved yet
    ABORTED = "Aborted"
    RETRY = "Retry"  # a failed revision runs again by request
    HELD = "AnalysisHeld"  # the API server was unreachable: the tick is not counted
    # initialization waits for the primary; past the deadline it keeps waiting (a warning)
    PRIMARY_NOT_READY = "PrimaryNotReady"


def enter(state: CanaryState, phase: Phase, *, now: datetime, message: str) -> CanaryState:
    """`state` moved to `phase` at `now`, for the reason `message` (no longer holding)."""
    return replace(
        state, phase=phase, phase_since=now, message=message, hold_reason="", stalled=False
    )


def fresh_run(
    state: CanaryState, *, applied: str, promoted: str, last_step_at: datetime | None
) -> CanaryState:
    """`state` with a run's counters zeroed (weight, failed checks, iterations, checks), about
    revision `applied` with the primary on `promoted`: where a run begins, or where
    initialization leaves none under way."""
    return replace(
        state,
        canary_weight=0,
        failed_checks=0,
        iterations=0,
        checks=(),
        last_applied_revision=applied,
        last_promoted_revision=promoted,
        last_step_at=last_step_at,
    )


def start_run(  # noqa: PLR0913 - keyword-only: how the run starts
    state: CanaryState,
    observation: Observation,
    *,
    restarting: bool,
    promoted: str,
    mirror: bool = False,
    paced: bool = False,
) -> Decision:
    """Begin analysing `observation.target_revision` from weight 0 with fresh counters.

    `promoted` is the revision the primary runs from now on (a restart from Promoting or
    Finalising may have completed the previous promotion already). With `mirror` the route
    copies the primary's requests to the canary from the start (blue/green with mirroring).
    `paced` makes the first analysis tick due one interval from now rather than at once: a
    blue/green run judges its first tick, so the canary (and load tests) get an interval of
    traffic before the metrics are read.

    The status says Progressing as soon as the change is seen: this cycle writes only what
    must change at once. The route is set to the primary unless it is already there, unmirrored
    (a run starting from a steady phase finds it so: that phase's end set it, and route repair
    keeps it); a restart always sets it, since the route may mirror or still carry the canary.
    A parked canary is scaled up `SCALE_UP_DELAY` later by another cycle (`again_in`; see
    `canary.core.analysis.analyse`), which also records the `NewRevision` event, so a burst of
    changes is acknowledged first and acted on right after, instead of each change waiting
    behind the others' writes. A canary that is not parked has nothing to wait for: the event
    goes with the acknowledgement and the analysis goes on at once.
    """
    revision = observation.target_revision
    what = "restarting analysis" if restarting else "starting analysis"
    message = f"New revision {revision} detected, {what}"
    started = fresh_run(
        enter(state, Phase.PROGRESSING, now=observation.now, message=message),
        applied=revision,
        promoted=promoted,
        last_step_at=observation.now if paced else None,
    )
    home = observation.route_weights == (TOTAL_WEIGHT, 0) and not mirror and not restarting
    route: tuple[Action, ...] = () if home else (replace(ALL_TO_PRIMARY, mirror=mirror),)
    if observation.canary.parked:
        return Decision(state=started, actions=route, again_in=SCALE_UP_DELAY)
    event = RecordEvent(reason=Reason.NEW_REVISION, message=message)
    return Decision(state=started, actions=(*route, event), again_in=0.0)


def scale_up(state: CanaryState, *, now: datetime) -> Decision:
    """The run's first action on a parked canary: scale it up, announcing the run, once
    `SCALE_UP_DELAY` passed since the run was acknowledged; until then, the time left.

    The status then says the canary is being scaled up, which is also how a later cycle that
    still sees it parked (its watch event not in yet) knows the run was announced: it scales
    up again (the same absolute write) without a second event or notification."""
    waited = (now - state.phase_since).total_seconds() if state.phase_since else SCALE_UP_DELAY
    if waited < SCALE_UP_DELAY:
        return Decision(state=state, again_in=SCALE_UP_DELAY - waited)
    if state.message == SCALING_UP:
        return Decision(state=state, actions=(ScaleCanary(up=True),))
    # Named from the revision, not the status message, which a pause or a held tick during
    # the delay may have changed.
    message = f"New revision {state.last_applied_revision} detected, scaling up the canary"
    event = RecordEvent(reason=Reason.NEW_REVISION, message=message)
    # A paced run (blue/green: `start_run`'s `paced`) gives the canary an interval of traffic
    # before its first judged tick: counted from now, when the canary starts, not from the
    # acknowledgement, or the delay would eat into it (all of it with a 2 s interval).
    paced_from = now if state.last_step_at is not None else None
    scaling = replace(state, message=SCALING_UP, last_step_at=paced_from)
    return Decision(state=scaling, actions=(ScaleCanary(up=True), event))


def promote(state: CanaryState, *, now: datetime, message: str) -> Decision:
    """Give the primary the template that passed analysis; traffic stays where it is."""
    promoting = replace(enter(state, Phase.PROMOTING, now=now, message=message), last_step_at=now)
    actions: tuple[Action, ...] = (
        PromoteTemplate(revision=state.last_applied_revision),
        RecordEvent(reason=Reason.PROMOTING, message=message),
    )
    return Decision(state=promoting, actions=actions)


def rollback(state: CanaryState, *, now: datetime, reason: Reason, message: str) -> Decision:
    """Fail the run: all traffic to the primary, canary scaled to zero, a Warning event.

    `failed_checks` is kept (unlike Flagger, which zeroes it) so the status still shows why.
    A failure while initializing has no canary or route to undo: only the event is recorded.
    """
    failed = replace(
        enter(state, Phase.FAILED, now=now, message=message),
        canary_weight=0,
        iterations=0,
        last_step_at=now,
    )
    event = RecordEvent(reason=reason, message=message, warning=True)
    if state.phase is Phase.INITIALIZING:
        return Decision(state=failed, actions=(event,))
    return Decision(state=failed, actions=(ALL_TO_PRIMARY, ScaleCanary(up=False), event))


def waiting_message(workload: str, detail: str) -> str:
    """Why a run holds while `workload` ("canary" or "primary") is not ready."""
    base = f"Waiting for the {workload} to be ready"
    return f"{base}: {detail}" if detail else base


SCALING_UP = waiting_message("canary", "scaling it up from zero")


def expected_weights(state: CanaryState) -> tuple[int, int]:
    """The (primary, canary) weights the route must have in `state`."""
    if state.phase in {Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.PROMOTING}:
        canary = max(0, min(TOTAL_WEIGHT, state.canary_weight))
        return (TOTAL_WEIGHT - canary, canary)
    return (TOTAL_WEIGHT, 0)
