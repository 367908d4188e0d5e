"""Rule 3 of `decide`: initialization of a Canary, and repair of its missing objects.

A new Canary gets its primary, Services and route (`Initialize`), then waits for the primary to
be ready, however long that takes: past the progress deadline it is Stalled (one Warning event)
but never Failed, as in Flagger. A Canary that failed before anything was promoted resumes its
initialization. A primary, Service or route that disappears later is recreated, the primary from
the last promoted template, and the target is scaled to zero only when it is not running as the
canary.

Pure, like `canary.core.decide`, which alone decides when these rules apply.
"""

from __future__ import annotations

from dataclasses import replace

from canary.core.model import (
    CanaryState,
    Decision,
    Initialize,
    Observation,
    Phase,
    Policy,
    RecordEvent,
)
from canary.core.transitions import Reason, enter, fresh_run, waiting_message

# Phases in which the target runs as the canary and must not be scaled down by a repair.
_CANARY_RUNNING = frozenset(
    {Phase.WAITING, Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.PROMOTING}
)


def initializing(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    """Initializing: create the objects, then become Initialized once the primary is ready."""
    revision = observation.target_revision
    if not observation.initialized:
        message = "Creating the primary, the Services and the route"
        creating = replace(state, message=message, hold_reason="", stalled=False)
        return Decision(state=creating, actions=(Initialize(),))
    if not (policy.skip_analysis or observation.primary.ready):
        return _waiting_for_primary(policy, state, observation)
    message = f"Initialization done; the primary runs revision {revision}"
    done = fresh_run(
        enter(state, Phase.INITIALIZED, now=observation.now, message=message),
        applied=revision,
        promoted=revision,
        last_step_at=None,
    )
    return Decision(
        state=done, actions=(Initialize(), RecordEvent(reason=Reason.SYNCED, message=message))
    )


def _waiting_for_primary(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    """Initialization holds until the primary is ready, however long that takes.

    A slow cluster (hundreds of Canaries created at once) is no failed release: Ready=False
    with reason PrimaryNotReady all along, and past the progress deadline (or Kubernetes'
    ProgressDeadlineExceeded on the primary) Stalled=True and one Warning event, while the
    controller keeps looking. The Canary becomes Initialized on the first cycle that sees the
    primary ready.

    The objects exist already (`observation.initialized`): waiting asks for no action, so a
    burst of Canaries waiting on a slow cluster sends it nothing while it catches up (each used
    to apply its primary, Services and route again every second, which kept the API server too
    busy to make the primaries ready).
    """
    detail = observation.primary.message
    since = state.phase_since or observation.now
    waited = (observation.now - since).total_seconds()
    stalled = observation.primary.deadline_exceeded or waited > policy.progress_deadline
    if not stalled:
        message = waiting_message("primary", detail)
        held = replace(state, message=message, hold_reason=Reason.PRIMARY_NOT_READY, stalled=False)
        return Decision(state=held)
    # No running count of seconds: a message that changes every cycle is a status write.
    message = (
        f"The primary is not ready beyond the progress deadline of "
        f"{policy.progress_deadline:.0f}s; initialization keeps waiting for it"
    )
    if detail:
        message = f"{message}: {detail}"
    held = replace(state, message=message, hold_reason=Reason.PRIMARY_NOT_READY, stalled=True)
    if state.stalled:
        return Decision(state=held)
    event = RecordEvent(reason=Reason.PRIMARY_NOT_READY, message=message, warning=True)
    return Decision(state=held, actions=(event,))


def initialization_failed(state: CanaryState, observation: Observation) -> Decision:
    """Failed before anything was promoted (an earlier controller failed initializations at the
    progress deadline): initialization resumes, and completes once the primary is ready."""
    revision = observation.target_revision
    if revision == state.last_applied_revision:
        message = f"Resuming the initialization of revision {revision}"
        reason = Reason.REINITIALIZE
    else:
        message = f"New revision {revision} detected, retrying initialization"
        reason = Reason.NEW_REVISION
    retrying = enter(state, Phase.INITIALIZING, now=observation.now, message=message)
    event = RecordEvent(reason=reason, message=message)
    return Decision(state=retrying, actions=(Initialize(), event))


def reinitialize(state: CanaryState) -> Decision:
    """Recreate missing objects; the primary comes from the last promoted template."""
    message = "Recreating a missing primary, Service or route"
    action = Initialize(scale_target_to_zero=state.phase not in _CANARY_RUNNING)
    event = RecordEvent(reason=Reason.REINITIALIZE, message=message)
    return Decision(state=replace(state, message=message), actions=(action, event))
