"""Rule 6 of `decide` for the phases after a passed analysis: Promoting and Finalising.

Promoting waits until the primary runs the promoted template and is ready, then (with
`stepWeightPromotion`) moves traffic back to it one interval at a time; Finalising routes all
traffic to the primary and scales the canary down, and the release has succeeded.

Pure, like `canary.core.decide`, which alone decides when these rules apply (a new revision, an
abort or the progress deadline come first).
"""

from __future__ import annotations

from dataclasses import replace

from canary.core.model import (
    CanaryState,
    Decision,
    Observation,
    Phase,
    Policy,
    PromoteTemplate,
    RecordEvent,
    ScaleCanary,
    SetWeights,
)
from canary.core.schedule import TOTAL_WEIGHT, next_promotion_weight, tick_due
from canary.core.transitions import ALL_TO_PRIMARY, Reason, enter, waiting_message


def promoting(policy: Policy, state: CanaryState, observation: Observation) -> Decision:
    """Wait until the primary runs the promoted template, then route traffic back to it."""
    now = observation.now
    revision = state.last_applied_revision
    if observation.primary_revision != revision:
        running = observation.primary_revision or "an unknown revision"
        message = f"Promoting revision {revision}: the primary still runs {running}"
        return Decision(
            state=replace(state, message=message), actions=(PromoteTemplate(revision=revision),)
        )
    if not observation.primary.ready:
        message = waiting_message("primary", observation.primary.message)
        return Decision(state=replace(state, message=message))
    weight = next_promotion_weight(policy, state.canary_weight)
    if weight > 0:
        if not tick_due(policy, state, now):
            return Decision(state=state)
        message = f"Advanced primary weight to {TOTAL_WEIGHT - weight}"
        shifted = replace(state, canary_weight=weight, last_step_at=now, message=message)
        actions = (
            SetWeights(primary=TOTAL_WEIGHT - weight, canary=weight),
            RecordEvent(reason=Reason.ADVANCE, message=message),
        )
        return Decision(state=shifted, actions=actions)
    message = f"The primary runs revision {revision}; routing all traffic to it"
    finalising = replace(
        enter(state, Phase.FINALISING, now=now, message=message), canary_weight=0, last_step_at=now
    )
    event = RecordEvent(reason=Reason.PROMOTING, message=message)
    return Decision(state=finalising, actions=(ALL_TO_PRIMARY, event))


def finalising(state: CanaryState, observation: Observation) -> Decision:
    """All traffic is on the primary: the release succeeded; scale the canary down."""
    revision = state.last_applied_revision
    message = f"Promotion of revision {revision} completed"
    succeeded = replace(
        enter(state, Phase.SUCCEEDED, now=observation.now, message=message),
        canary_weight=0,
        iterations=0,
        last_promoted_revision=revision,
    )
    actions = (
        ALL_TO_PRIMARY,
        ScaleCanary(up=False),
        RecordEvent(reason=Reason.SUCCEEDED, message=message),
    )
    return Decision(state=succeeded, actions=actions)
