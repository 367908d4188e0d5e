"""One analysis tick of a run in Progressing or WaitingPromotion: judge, then step or promote.

The rules that make analysis fail closed live here. A tick moves traffic or promotes only when
every check the shell passed in has passed; a failing check counts towards `threshold`, and the
tick that reaches the threshold rolls back at once (Flagger waits for the next tick). A tick that
needs checks and got none waits rather than guessing.

Pure: called by `decide` after the deadline, infrastructure and new-revision rules have had
their say; it never looks at the clock except through the observation.
"""

from __future__ import annotations

from dataclasses import replace
from typing import assert_never

from canary.core.model import (
    CanaryState,
    CheckResult,
    Decision,
    Observation,
    Phase,
    Policy,
    RecordEvent,
    SetWeights,
    Verdict,
)
from canary.core.schedule import (
    TOTAL_WEIGHT,
    Strategy,
    max_weight,
    needs_checks,
    next_weight,
    strategy,
    tick_due,
)
from canary.core.transitions import (
    Reason,
    enter,
    promote,
    rollback,
    scale_up,
    waiting_message,
)


def analyse(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    """Decide one cycle of a run whose revision is current and whose objects exist."""
    now = observation.now
    if observation.canary.parked and state.canary_weight == 0 and state.iterations == 0:
        # The run's first step is to scale the canary up (`start_run` only acknowledged the
        # change). Only before any step: a canary scaled to zero later (a ScaledObject with
        # minReplicaCount 0) is not fought over; it is waited for like any unready canary.
        return scale_up(state, now=now)
    if not observation.canary.ready:
        message = waiting_message("canary", observation.canary.message)
        return Decision(state=replace(state, message=message))
    if policy.skip_analysis:
        message = f"Analysis skipped; promoting revision {state.last_applied_revision}"
        return promote(state, now=now, message=message)
    if not tick_due(policy, state, now):
        if not state.message.startswith(waiting_message("canary", "")):
            return Decision(state=state)
        # The canary is ready again: say so rather than keep an outdated "waiting" message.
        message = f"The canary is ready at weight {state.canary_weight}; waiting for the next tick"
        return Decision(state=replace(state, message=message))
    return _tick(policy, state, observation)


def _tick(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    """A due tick with the canary ready: judge the checks, then step, promote or count."""
    judged = needs_checks(policy, state)
    if observation.checks is None and judged:
        message = (
            f"Analysis of revision {state.last_applied_revision} is due; "
            "waiting for the checks to run"
        )
        return Decision(state=replace(state, message=message))
    if observation.checks is not None:
        state = replace(state, checks=observation.checks)
    failing = [check for check in observation.checks or () if check.verdict is Verdict.FAIL]
    if failing:
        return _failed_tick(policy, state, observation, failing)
    return _passed_tick(policy, state, observation, judged=judged)


def _passed_tick(
    policy: Policy, state: CanaryState, observation: Observation, *, judged: bool
) -> Decision:
    """A due tick whose checks (if any) all passed: move on as the strategy says."""
    kind = strategy(policy)
    match kind:
        case Strategy.CANARY:
            return _weighted_step(policy, state, observation, judged=judged)
        case Strategy.ITERATIONS:
            return _iteration(policy, state, observation, switch_at_end=True)
        case Strategy.AB if state.canary_weight == 0:
            return _route_matching(state, observation)
        case Strategy.AB:
            return _iteration(policy, state, observation, switch_at_end=False)
        case Strategy.NONE:
            message = (
                f"Rolling back revision {state.last_applied_revision}: the analysis sets "
                "neither stepWeight, stepWeights nor iterations, so it can never promote"
            )
            return rollback(state, now=observation.now, reason=Reason.ROLLBACK, message=message)
        case _:
            assert_never(kind)


def describe(check: CheckResult) -> str:
    """A failing check in one line: name, value, accepted range and why."""
    bounds = [f"min {check.min:g}" if check.min is not None else ""]
    bounds.append(f"max {check.max:g}" if check.max is not None else "")
    accepted = ", ".join(b for b in bounds if b)
    value = "no value" if check.value is None else f"{check.value:g}"
    shown = f"{check.name} = {value}" + (f" (accepted {accepted})" if accepted else "")
    return f"{shown}: {check.message}" if check.message else shown


def _failed_tick(
    policy: Policy, state: CanaryState, observation: Observation, failing: list[CheckResult]
) -> Decision:
    threshold = max(1, policy.threshold)
    failed_checks = state.failed_checks + 1
    detail = "; ".join(describe(check) for check in failing)
    counted = replace(state, failed_checks=failed_checks, last_step_at=observation.now)
    if failed_checks >= threshold:
        message = (
            f"Rolling back revision {state.last_applied_revision}: "
            f"failed checks threshold {threshold} reached; {detail}"
        )
        return rollback(counted, now=observation.now, reason=Reason.ROLLBACK, message=message)
    message = (
        f"Check failed ({failed_checks}/{threshold}) at canary weight {state.canary_weight}: "
        f"{detail}"
    )
    event = RecordEvent(reason=Reason.CHECK_FAILED, message=message, warning=True)
    return Decision(state=replace(counted, message=message), actions=(event,))


def _weighted_step(
    policy: Policy, state: CanaryState, observation: Observation, *, judged: bool
) -> Decision:
    now = observation.now
    current = state.canary_weight
    ceiling = max_weight(policy)
    if judged and observation.promote_revision == state.last_applied_revision:
        message = (
            f"Checks passed at canary weight {current}; promoting revision "
            f"{state.last_applied_revision} by request (annotation canary.dev/promote)"
        )
        return promote(state, now=now, message=message)
    if current < ceiling and observation.increase_blocked:
        message = f"Holding canary weight {current}: {observation.increase_blocked}"
        return Decision(state=replace(state, last_step_at=now, message=message))
    if current < ceiling:
        weight = next_weight(policy, current)
        message = f"Advanced canary weight to {weight}"
        stepped = replace(state, canary_weight=weight, last_step_at=now, message=message)
        actions = (
            SetWeights(primary=TOTAL_WEIGHT - weight, canary=weight),
            RecordEvent(reason=Reason.ADVANCE, message=message),
        )
        return Decision(state=stepped, actions=actions)
    if not judged:  # cannot happen with a positive ceiling; never promote unjudged
        return Decision(state=state)
    message = (
        f"Checks passed at canary weight {current}; "
        f"promoting revision {state.last_applied_revision}"
    )
    return _promote_unless_gated(state, observation, message=message)


def _promote_unless_gated(
    state: CanaryState, observation: Observation, *, message: str
) -> Decision:
    """Promote, unless a confirm-promotion webhook has not approved: then wait in
    WaitingPromotion, keep analysing every interval, and ask again at the next tick."""
    if not observation.promotion_blocked:
        return promote(state, now=observation.now, message=message)
    waiting_message_ = (
        f"Checks passed; revision {state.last_applied_revision} waits for approval to be "
        f"promoted: {observation.promotion_blocked}"
    )
    entered = state.phase is not Phase.WAITING_PROMOTION
    waiting = (
        enter(state, Phase.WAITING_PROMOTION, now=observation.now, message=waiting_message_)
        if entered
        else state
    )
    waiting = replace(waiting, last_step_at=observation.now, message=waiting_message_)
    events = (
        (RecordEvent(reason=Reason.WAITING_PROMOTION, message=waiting_message_),) if entered else ()
    )
    return Decision(state=waiting, actions=events)


def _iteration(
    policy: Policy, state: CanaryState, observation: Observation, *, switch_at_end: bool
) -> Decision:
    """One passing tick of a blue/green or A/B run: count it, or promote after the last.

    Blue/green (`switch_at_end`) then sends all traffic to the canary before the primary is
    given its template, so clients never see the primary roll (with the `kubernetes` router the
    apex Service switches to the canary's pods); the switch is a traffic increase, so a shut
    confirm-traffic-increase gate holds it. A/B promotes with the matching requests where they
    are, on the canary.
    """
    revision = state.last_applied_revision
    if observation.promote_revision == revision:
        message = f"Checks passed; promoting revision {revision} by request (canary.dev/promote)"
        return _promote_switching(state, observation, message=message, switch=switch_at_end)
    done = state.iterations + 1
    if done < policy.iterations:
        message = f"Advanced iteration {done}/{policy.iterations}"
        stepped = replace(state, iterations=done, last_step_at=observation.now, message=message)
        event = RecordEvent(reason=Reason.ADVANCE, message=message)
        return Decision(state=stepped, actions=(event,))
    counted = replace(state, iterations=done)
    if switch_at_end and observation.increase_blocked:
        message = (
            f"Checks passed for {done}/{policy.iterations} iterations; holding all traffic on "
            f"the primary: {observation.increase_blocked}"
        )
        return Decision(state=replace(counted, last_step_at=observation.now, message=message))
    message = (
        f"Checks passed for {done}/{policy.iterations} iterations; promoting revision {revision}"
    )
    return _promote_switching(counted, observation, message=message, switch=switch_at_end)


def _promote_switching(
    state: CanaryState, observation: Observation, *, message: str, switch: bool
) -> Decision:
    """Promote (unless gated); with `switch`, route all traffic to the canary first."""
    decision = _promote_unless_gated(state, observation, message=message)
    if not switch or decision.state.phase is not Phase.PROMOTING:
        return decision
    switched = replace(decision.state, canary_weight=TOTAL_WEIGHT)
    event = RecordEvent(reason=Reason.ADVANCE, message="Routing all traffic to the canary")
    actions = (SetWeights(primary=0, canary=TOTAL_WEIGHT), event, *decision.actions)
    return Decision(state=switched, actions=actions)


def _route_matching(state: CanaryState, observation: Observation) -> Decision:
    """An A/B run's first tick: send the requests that match to the canary (not judged: no
    request has reached it yet). The route's other requests stay on the primary."""
    message = "Routing the requests that match to the canary"
    routed = replace(
        state, canary_weight=TOTAL_WEIGHT, last_step_at=observation.now, message=message
    )
    actions = (
        SetWeights(primary=0, canary=TOTAL_WEIGHT),
        RecordEvent(reason=Reason.ADVANCE, message=message),
    )
    return Decision(state=routed, actions=actions)
