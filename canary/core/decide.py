"""The state machine: `decide(policy, state, observation) -> Decision`, one cycle at a time.

Rules are applied in a fixed order, so the important ones can never be skipped by an early
return (the most reported failure of Flagger and Argo Rollouts):

1. A suspended canary, or one being deleted, is left alone.
2. The progress deadline, from persisted timestamps, in every phase that waits for a workload
   of a release (the canary, or the primary being promoted). Initialization is no release:
   a primary that stays unready past the deadline keeps being waited for (Ready=False,
   reason PrimaryNotReady, Stalled=True past the deadline, one Warning event) and the Canary
   becomes Initialized as soon as it is ready, as Flagger does; nothing claims an analysis.
3. Initialization, then repair of missing objects (primary, Services, route)
   (`canary.core.initialization`).
4. A new revision: starts a run from a steady phase, restarts it from any analysing phase.
5. An analysis held while the API server is unreachable (`observation.api_unreachable`): no
   check counts, no step is taken, and the next tick is due one full interval from now, so
   the analysis resumes after an outage without catching up. A controller that cannot write
   cannot move traffic; a check run then measures nothing the run controls, and an outage is
   never a verdict. Manual abort and rollback requests (rule 4's neighbours) still apply.
6. The phase's own rule: the analysis tick (`canary.core.analysis`), promotion and
   finalisation (`canary.core.promotion`).
7. Route repair: when the route object's weights differ from what the state says, set them again.

`decide` is deterministic and pure: no I/O, no clock but `observation.now`, no randomness. The
shell executes the returned actions in order and writes the returned state in one status patch,
then records the decision's events (they announce what the status now says); if it crashes
halfway, the next cycle's decision repeats what is still missing. A decision with `again_in`
has the next cycle run after that many seconds, not at the phase's pace: a new revision is
acknowledged (Progressing) in one cycle and its canary scaled up in one a moment later
(`canary.core.transitions.start_run`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import assert_never

from canary.core.analysis import analyse
from canary.core.initialization import initialization_failed, initializing, reinitialize
from canary.core.model import (
    CanaryState,
    Decision,
    Observation,
    Phase,
    Policy,
    RecordEvent,
    SetWeights,
    WorkloadReadiness,
)
from canary.core.promotion import finalising, promoting
from canary.core.schedule import Strategy, mirroring, strategy
from canary.core.transitions import Reason, enter, expected_weights, rollback, start_run


def decide(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    """The next state of one Canary and the actions that make the world match it."""
    if policy.suspend or state.phase in {Phase.TERMINATING, Phase.TERMINATED}:
        return Decision(state=state)
    if observation.paused:
        return _paused(state)
    if state.phase_since is None:  # a fresh object: its first phase begins now
        state = replace(state, phase_since=observation.now)
    expired = _deadline(policy, state, observation)
    if expired is not None:
        return expired
    return _with_route_repair(policy, _by_phase(policy, state, observation), observation)


PAUSED_MESSAGE = "Paused by request (annotation canary.dev/paused); nothing moves until resumed"


def would_start_run(state: CanaryState, observation: Observation) -> bool:
    """Whether `decide` starts a new run for `observation.target_revision` unless blocked (by
    the limit of releases under way, or a confirm-rollout gate): the shell asks gates only then.
    """
    revision = observation.target_revision
    if not observation.initialized or not state.last_promoted_revision:
        return False
    if state.phase is Phase.WAITING:
        return revision != state.last_promoted_revision
    steady = {Phase.INITIALIZED, Phase.SUCCEEDED, Phase.FAILED}
    return state.phase in steady and (
        revision not in {state.last_promoted_revision, state.last_applied_revision}
        or _retry_requested(state, observation)
    )


def _paused(state: CanaryState) -> Decision:
    """Like `suspend`, but set by `canary pause` on the object's annotations, and visible."""
    if state.message == PAUSED_MESSAGE:
        return Decision(state=state)
    paused = replace(state, message=PAUSED_MESSAGE)
    return Decision(
        state=paused, actions=(RecordEvent(reason=Reason.PAUSED, message=PAUSED_MESSAGE),)
    )


def _by_phase(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    match state.phase:
        case Phase.INITIALIZING:
            return initializing(policy, state, observation)
        case Phase.INITIALIZED | Phase.SUCCEEDED | Phase.FAILED:
            return _steady(policy, state, observation)
        case (
            Phase.WAITING
            | Phase.PROGRESSING
            | Phase.WAITING_PROMOTION
            | Phase.PROMOTING
            | Phase.FINALISING
        ):
            return _running(policy, state, observation)
        case Phase.TERMINATING | Phase.TERMINATED:
            return Decision(state=state)
        case _:
            assert_never(state.phase)


def _deadline(policy: Policy, state: CanaryState, observation: Observation) -> Decision | None:
    """Roll back when the workload a phase waits for has run out of time.

    The clock is the later of `phase_since` and `last_step_at`: a run that keeps ticking is
    making progress, a workload that stays unready after the last tick is not. Kubernetes'
    own ProgressDeadlineExceeded (`deadline_exceeded`) fails the run at once.
    """
    workload: WorkloadReadiness
    match state.phase:
        case Phase.PROGRESSING | Phase.WAITING_PROMOTION:
            name, workload = "canary", observation.canary
        case Phase.PROMOTING | Phase.FINALISING:
            name, workload = "primary", _promoted_primary(state, observation)
        case _:
            return None
    if workload.deadline_exceeded:
        problem = f"the {name} exceeded its progress deadline"
    else:
        since = max(t for t in (state.phase_since, state.last_step_at) if t is not None)
        stalled = (observation.now - since).total_seconds()
        if workload.ready or stalled <= policy.progress_deadline:
            return None
        problem = (
            f"the {name} is not ready and nothing has progressed for {stalled:.0f}s, "
            f"beyond the progress deadline of {policy.progress_deadline:.0f}s"
        )
    if workload.message:
        problem = f"{problem}: {workload.message}"
    message = f"Rolling back revision {state.last_applied_revision}: {problem}"
    return rollback(state, now=observation.now, reason=Reason.DEADLINE_EXCEEDED, message=message)


def _promoted_primary(state: CanaryState, observation: Observation) -> WorkloadReadiness:
    """The primary counts as ready for a promotion only once it runs the promoted template."""
    primary = observation.primary
    if observation.primary_revision == state.last_applied_revision:
        return primary
    running = observation.primary_revision or "an unknown revision"
    detail = f"it runs {running}, not {state.last_applied_revision}"
    message = f"{detail}; {primary.message}" if primary.message else detail
    return replace(primary, ready=False, message=message)


def _steady(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    """Initialized, Succeeded, Failed: nothing moves until the target's revision changes (or a
    failed revision is retried by request)."""
    revision = observation.target_revision
    if not state.last_promoted_revision:
        return initialization_failed(state, observation)
    if not observation.initialized:
        return reinitialize(state)
    if revision == state.last_promoted_revision:
        return _back_to_promoted(state, revision)
    retry = _retry_requested(state, observation)
    if revision == state.last_applied_revision and not retry:
        return Decision(state=state)  # a failed revision is not retried by itself
    return _start(policy, state, observation, retry=retry)


def _start(
    policy: Policy, state: CanaryState, observation: Observation, *, retry: bool
) -> Decision:
    """Start a run for the target's revision from a steady phase, unless it must wait."""
    revision = observation.target_revision
    if observation.start_blocked:
        return _wait_to_start(state, observation)
    started = start_run(
        state,
        observation,
        restarting=False,
        promoted=state.last_promoted_revision,
        mirror=_mirrors(policy),
        paced=strategy(policy) is Strategy.ITERATIONS,
    )
    if not retry:
        return started
    message = f"Retrying revision {revision} by request (annotation canary.dev/retry)"
    event = RecordEvent(reason=Reason.RETRY, message=message)
    return replace(
        started, state=replace(started.state, message=message), actions=(*started.actions, event)
    )


def _retry_requested(state: CanaryState, observation: Observation) -> bool:
    """`canary retry` asked to run this failed revision again, about this very failure."""
    return (
        state.phase is Phase.FAILED
        and observation.retry_revision == observation.target_revision == state.last_applied_revision
        and observation.retry_failed_at is not None
        and observation.retry_failed_at == state.phase_since
    )


def _mirrors(policy: Policy) -> bool:
    """Whether a run of `policy` starts by mirroring requests to the canary."""
    return mirroring(policy, CanaryState(phase=Phase.PROGRESSING))


def _back_to_promoted(state: CanaryState, revision: str) -> Decision:
    """The target runs the promoted revision: nothing to analyse, but remember the revert."""
    if revision == state.last_applied_revision:
        return Decision(state=state)
    # Remembering the revert means re-applying the failed revision later starts a new run.
    message = f"The target went back to the promoted revision {revision}; nothing to analyse"
    reverted = replace(state, last_applied_revision=revision, message=message)
    return Decision(state=reverted, actions=(RecordEvent(reason=Reason.REVERTED, message=message),))


def _wait_to_start(state: CanaryState, observation: Observation) -> Decision:
    """A new revision that may not start yet: wait in Waiting, saying why, with one event."""
    message = f"New revision {observation.target_revision} waits: {observation.start_blocked}"
    if state.phase is Phase.WAITING:
        return Decision(state=replace(state, message=message))
    waiting = enter(state, Phase.WAITING, now=observation.now, message=message)
    return Decision(state=waiting, actions=(RecordEvent(reason=Reason.WAITING, message=message),))


def _running(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    """Waiting and the analysing phases: a new revision restarts the run wherever it is."""
    if not observation.initialized:
        return reinitialize(state)
    if state.phase is Phase.WAITING and (held := _still_waiting(state, observation)) is not None:
        return held
    if state.phase is Phase.WAITING or observation.target_revision != state.last_applied_revision:
        return _new_run(policy, state, observation)
    if (
        state.phase in {Phase.PROGRESSING, Phase.WAITING_PROMOTION}
        and observation.abort_revision == state.last_applied_revision
    ):
        message = (
            f"Rolling back revision {state.last_applied_revision}: aborted by request "
            "(annotation canary.dev/abort)"
        )
        return rollback(state, now=observation.now, reason=Reason.ABORTED, message=message)
    if (
        state.phase in {Phase.PROGRESSING, Phase.WAITING_PROMOTION}
        and observation.rollback_requested
    ):
        message = (
            f"Rolling back revision {state.last_applied_revision}: {observation.rollback_requested}"
        )
        return rollback(state, now=observation.now, reason=Reason.ROLLBACK, message=message)
    return _phase_rule(policy, state, observation)


HELD_MESSAGE = "Analysis held"


def _held_for_api(state: CanaryState, observation: Observation) -> Decision:
    """Rule 5: count nothing while the API server is unreachable; restart the interval."""
    message = (
        f"{HELD_MESSAGE}: {observation.api_unreachable}; the next check comes one interval "
        "after the API server answers again"
    )
    held = replace(state, last_step_at=observation.now, message=message)
    if state.message == message:
        return Decision(state=held)
    # One event per held cycle that says something new: those sent while the server is down
    # are lost, the one of the cycle that holds after it answers again is recorded.
    return Decision(state=held, actions=(RecordEvent(reason=Reason.HELD, message=message),))


def _phase_rule(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    match state.phase:
        case Phase.PROGRESSING | Phase.WAITING_PROMOTION if observation.api_unreachable:
            return _held_for_api(state, observation)
        case Phase.PROGRESSING | Phase.WAITING_PROMOTION:
            return analyse(policy, state, observation)
        case Phase.PROMOTING:
            return promoting(policy, state, observation)
        case Phase.FINALISING:
            return finalising(state, observation)
        case _:  # the other phases never reach here
            return Decision(state=state)


def _new_run(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    """Start the waiting run, or restart a run for a newer revision, wherever it was."""
    promotion_landed = state.phase is Phase.FINALISING or (
        state.phase is Phase.PROMOTING
        and observation.primary_revision == state.last_applied_revision
    )
    promoted = state.last_applied_revision if promotion_landed else state.last_promoted_revision
    restarting = state.phase is not Phase.WAITING
    return start_run(
        state,
        observation,
        restarting=restarting,
        promoted=promoted,
        mirror=_mirrors(policy),
        paced=strategy(policy) is Strategy.ITERATIONS,
    )


def _still_waiting(state: CanaryState, observation: Observation) -> Decision | None:
    """Waiting: back to steady if the target was reverted, on hold while runs are limited."""
    if observation.target_revision == state.last_promoted_revision:
        message = "The target went back to the promoted revision while waiting; nothing to analyse"
        back = replace(
            enter(state, Phase.INITIALIZED, now=observation.now, message=message),
            last_applied_revision=observation.target_revision,
        )
        return Decision(state=back, actions=(RecordEvent(reason=Reason.REVERTED, message=message),))
    if observation.start_blocked:
        return _wait_to_start(state, observation)
    return None


def _with_route_repair(policy: Policy, decision: Decision, observation: Observation) -> Decision:
    """Set the route's weights again when they drifted from the state's and nothing else does."""
    state = decision.state
    seen = observation.route_weights
    if (
        seen is None
        or not observation.initialized
        or state.phase in {Phase.INITIALIZING, Phase.TERMINATING, Phase.TERMINATED}
        or any(isinstance(action, SetWeights) for action in decision.actions)
    ):
        return decision
    primary, canary = expected_weights(state)
    if seen == (primary, canary):
        return decision
    message = f"Route weights were {seen[0]}/{seen[1]}; set back to {primary}/{canary}"
    repair = (
        SetWeights(primary=primary, canary=canary, mirror=mirroring(policy, state)),
        RecordEvent(reason=Reason.ROUTE_REPAIRED, message=message),
    )
    return replace(decision, actions=repair + decision.actions)
