"""The step schedule: which weight comes next, and whether this cycle's analysis tick is due.

Flagger's arithmetic with two deliberate differences. A linear `stepWeight` never overshoots
`maxWeight` (Flagger's step 20 / max 50 goes 20, 40, 60; ours goes 20, 40, 50). And pacing is
measured from `CanaryState.last_step_at`, which lives in the Canary's status, so a controller that
restarts never steps faster than `interval` (Flagger's ticker fires at once on every restart).

Pure arithmetic over the policy and the persisted state; the clock is passed in, never read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from canary.core.model import CanaryState, Phase, Policy

TOTAL_WEIGHT = 100

# The phases whose ticks are paced by `interval`: analysis, and a gradual promotion.
ANALYSING_PHASES = frozenset({Phase.PROGRESSING, Phase.WAITING_PROMOTION})
PACED_PHASES = ANALYSING_PHASES | {Phase.PROMOTING}


class Strategy(StrEnum):
    """How a run moves towards promotion."""

    CANARY = "Canary"  # traffic steps by stepWeight or stepWeights up to max_weight
    ITERATIONS = "Iterations"  # blue/green: traffic stays on the primary for N passing ticks
    AB = "AB"  # A/B testing: matching requests go to the canary for N passing ticks
    NONE = "None"  # nothing says how to progress: the run cannot reach promotion


def strategy(policy: Policy) -> Strategy:
    """Flagger's precedence: `iterations` makes an A/B run when requests are matched, else a
    blue/green run; without iterations the weights decide."""
    if policy.iterations > 0:
        return Strategy.AB if policy.ab_testing else Strategy.ITERATIONS
    if next_weight(policy, 0) > 0:
        return Strategy.CANARY
    return Strategy.NONE


def max_weight(policy: Policy) -> int:
    """The canary weight at which analysis ends: stepWeights' last entry (capped at 100) when
    the list is set, else maxWeight, else 100."""
    if policy.step_weights:
        return max(0, min(TOTAL_WEIGHT, policy.step_weights[-1]))
    if policy.max_weight > 0:
        return min(TOTAL_WEIGHT, policy.max_weight)
    return TOTAL_WEIGHT


def next_weight(policy: Policy, current: int) -> int:
    """The canary weight after one more analysis step from `current`, never above max_weight.

    stepWeight: `current + stepWeight` (it takes precedence, as in Flagger, when both are set);
    stepWeights: the first entry above `current` (so a list edited mid-run continues sensibly).
    Both are clamped to max_weight. Without either, the weight does not move.
    """
    ceiling = max_weight(policy)
    if policy.step_weight > 0:
        return min(current + policy.step_weight, ceiling)
    if policy.step_weights:
        above = [w for w in policy.step_weights if w > current]
        return min(above[0], ceiling) if above else ceiling
    return min(current, ceiling)


def weight_sequence(policy: Policy) -> tuple[int, ...]:
    """Every canary weight a passing run goes through, in order (empty unless CANARY)."""
    if strategy(policy) is not Strategy.CANARY:
        return ()
    weights: list[int] = []
    current = 0
    ceiling = max_weight(policy)
    while current < ceiling:
        current = next_weight(policy, current)
        weights.append(current)
    return tuple(weights)


def next_promotion_weight(policy: Policy, current: int) -> int:
    """The canary weight after one step of shifting traffic back to the promoted primary:
    `current - stepWeightPromotion`, or 0 at once when stepWeightPromotion is unset."""
    if policy.step_weight_promotion <= 0:
        return 0
    return max(0, current - policy.step_weight_promotion)


def tick_due(policy: Policy, state: CanaryState, now: datetime) -> bool:
    """Whether a paced step (analysis, or gradual promotion) may happen at `now`."""
    if state.phase not in PACED_PHASES:
        return False
    if state.last_step_at is None:
        return True
    return now >= state.last_step_at + timedelta(seconds=policy.interval)


def needs_checks(policy: Policy, state: CanaryState) -> bool:
    """Whether an analysis tick in this state is judged by metric checks.

    Not when analysis is skipped, and not for a weighted run's first step: at weight 0 no
    traffic has reached the canary yet, so metrics could only say "no data". The same holds for
    an A/B run's first tick, which routes the matching requests to the canary. Every later step,
    and every tick of a blue/green run (whose canary is tested directly), is judged.
    """
    if policy.skip_analysis or state.phase not in ANALYSING_PHASES:
        return False
    routed_later = strategy(policy) in {Strategy.CANARY, Strategy.AB}
    return not (routed_later and state.canary_weight == 0)


def mirroring(policy: Policy, state: CanaryState) -> bool:
    """Whether the route copies the primary's requests to the canary: only while a blue/green
    run with `mirror` is analysed (a weighted or A/B run sends the canary real traffic)."""
    return (
        policy.mirror
        and strategy(policy) is Strategy.ITERATIONS
        and state.phase in ANALYSING_PHASES
    )


def checks_due(policy: Policy, state: CanaryState, now: datetime) -> bool:
    """Whether the shell must run the metric checks this cycle and pass them to `decide`.

    True when an analysis tick is due (phase Progressing or WaitingPromotion and `interval` has
    passed since `last_step_at`, or no step yet) and the tick is judged (`needs_checks`).
    `decide` waits while checks are due but missing, and ignores them while the canary is not
    ready, so the shell may skip them then.
    """
    return (
        state.phase in ANALYSING_PHASES
        and tick_due(policy, state, now)
        and (needs_checks(policy, state))
    )
