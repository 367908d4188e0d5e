"""Properties of `decide` over generated policies, states and observations, and over whole runs
simulated against a fake world with a fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
from random import Random
from typing import TypeVar

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from canary.core.decide import decide
from canary.core.model import (
    CanaryState,
    CheckResult,
    Decision,
    Observation,
    Phase,
    Policy,
    PromoteTemplate,
    SetWeights,
    Verdict,
    WorkloadReadiness,
)
from canary.core.schedule import Strategy, max_weight, next_weight, strategy, weight_sequence
from canary.core.transitions import expected_weights
from tests.unit.core.world import REV_A, REV_B, REV_C, T0, World, ago, cycle, effects

REVISIONS = (REV_A, REV_B, REV_C)
_T = TypeVar("_T")
HANDS_OFF = {Phase.TERMINATING, Phase.TERMINATED}
WEIGHTED_PHASES = {Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.PROMOTING}


@st.composite
def policies(draw: st.DrawFn, *, weighted_only: bool = False) -> Policy:
    modes = ["linear", "list"] if weighted_only else ["linear", "list", "iterations", "none"]
    mode = draw(st.sampled_from(modes))
    policy = Policy(
        interval=draw(st.sampled_from([1.0, 10.0, 60.0, 300.0])),
        threshold=draw(st.integers(1, 5)),
        step_weight_promotion=draw(st.sampled_from([0, 0, 10, 25, 100])),
        progress_deadline=draw(st.sampled_from([60.0, 600.0, 3600.0])),
        skip_analysis=False if weighted_only else draw(st.booleans()),
    )
    match mode:
        case "linear":
            return replace(
                policy, step_weight=draw(st.integers(1, 100)), max_weight=draw(st.integers(0, 100))
            )
        case "list":
            steps = draw(st.lists(st.integers(1, 100), min_size=1, max_size=6, unique=True))
            return replace(policy, step_weights=tuple(sorted(steps)))
        case "iterations":
            return replace(policy, iterations=draw(st.integers(1, 5)))
        case _:
            return policy


@st.composite
def states(draw: st.DrawFn, policy: Policy, phases: list[Phase] | None = None) -> CanaryState:
    phase = draw(st.sampled_from(phases or list(Phase)))
    weighted = phase in WEIGHTED_PHASES
    promoted_choices = (
        (*REVISIONS, "") if phase in {Phase.INITIALIZING, Phase.FAILED} else REVISIONS
    )
    return CanaryState(
        phase=phase,
        canary_weight=draw(st.sampled_from((0, *weight_sequence(policy)))) if weighted else 0,
        failed_checks=draw(st.integers(0, policy.threshold - 1)),
        iterations=draw(st.integers(0, max(0, policy.iterations - 1))),
        last_applied_revision=draw(st.sampled_from(REVISIONS)),
        last_promoted_revision=draw(st.sampled_from(promoted_choices)),
        phase_since=draw(st.none() | st.integers(0, 4000).map(ago)),
        last_step_at=draw(st.none() | st.integers(0, 4000).map(ago)),
    )


def mostly(usual: _T, *rare: _T) -> st.SearchStrategy[_T]:
    """`usual` about four times in five, else one of `rare`: keeps most examples on the paths
    that matter (a healthy world) while still covering the odd ones."""
    return st.sampled_from([usual, usual, usual, usual, *rare])


check_results = st.builds(
    CheckResult,
    name=st.sampled_from(["request-success-rate", "request-duration"]),
    verdict=st.sampled_from(Verdict),
    value=st.none() | st.floats(0, 1000),
    message=st.just(""),
)
readiness = st.builds(
    WorkloadReadiness,
    exists=mostly(True, False),  # noqa: FBT003 - a value, not a flag
    ready=mostly(True, False),  # noqa: FBT003
    message=st.sampled_from(["", "1 of 2 updated replicas available"]),
    deadline_exceeded=mostly(False, True),  # noqa: FBT003
)


@st.composite
def observations(draw: st.DrawFn, state: CanaryState) -> Observation:
    """What the shell might see for `state`: mostly consistent with it, sometimes not at all."""
    weights = (100 - state.canary_weight, state.canary_weight)
    return Observation(
        now=T0,
        target_revision=draw(mostly(state.last_applied_revision, *REVISIONS)),
        primary=draw(readiness),
        canary=draw(readiness),
        initialized=draw(mostly(True, False)),  # noqa: FBT003
        route_weights=draw(st.just(weights) | st.none() | st.integers(0, 100).map(_split)),
        checks=draw(st.none() | st.lists(check_results, max_size=3).map(tuple)),
        primary_revision=draw(
            st.sampled_from([state.last_applied_revision, state.last_promoted_revision, ""])
        ),
    )


def _split(canary: int) -> tuple[int, int]:
    return (100 - canary, canary)


@st.composite
def situations(draw: st.DrawFn) -> tuple[Policy, CanaryState, Observation]:
    policy = draw(policies())
    state = draw(states(policy))
    return policy, state, draw(observations(state))


def weights_set(decision: Decision) -> list[SetWeights]:
    return [action for action in decision.actions if isinstance(action, SetWeights)]


@given(situations())
def test_weights_sum_to_100_and_never_exceed_max_weight(
    situation: tuple[Policy, CanaryState, Observation],
) -> None:
    policy, state, observation = situation

    decision = decide(policy, state, observation)

    ceiling = max_weight(policy)
    for action in weights_set(decision):
        assert action.primary + action.canary == 100
        assert 0 <= action.canary <= ceiling
    assert 0 <= decision.state.canary_weight <= ceiling


@given(situations())
def test_decide_is_deterministic(situation: tuple[Policy, CanaryState, Observation]) -> None:
    policy, state, observation = situation

    assert decide(policy, state, observation) == decide(policy, state, observation)


@given(situations())
def test_re_deciding_converges_without_a_new_tick(
    situation: tuple[Policy, CanaryState, Observation],
) -> None:
    policy, state, seen = situation
    world = World(
        now=T0,
        target=seen.target_revision,
        primary_revision=seen.primary_revision,
        initialized=seen.initialized,
        route=seen.route_weights or (100, 0),
        canary_up=seen.canary.ready,
        canary_ready=seen.canary.ready,
        primary_ready=seen.primary.ready,
    )
    first = decide(policy, state, world.observation(seen.checks))
    world.apply(first.actions)
    state = first.state
    increases = 0
    for _ in range(8):
        before = replace(world)
        decision = decide(policy, state, world.observation())
        world.apply(decision.actions)
        if decision.state.canary_weight > state.canary_weight:
            increases += 1
            assert decision.state.canary_weight == next_weight(policy, state.canary_weight)
        if decision.state == state and world == before:
            break
        state = decision.state
    else:
        raise AssertionError(f"no fixed point: {state}")
    assert increases <= 1  # at most the one step whose tick was due at this instant
    if world.initialized and state.phase not in {Phase.INITIALIZING, *HANDS_OFF}:
        assert world.route == expected_weights(state)  # a drifted route was set back


@st.composite
def settled(draw: st.DrawFn) -> tuple[Policy, CanaryState, Observation]:
    policy = draw(policies())
    state = draw(states(policy, [Phase.FAILED, Phase.SUCCEEDED]))
    # A run finished only once something was promoted: a Failed initialization resumes.
    assume(state.last_promoted_revision)
    known = [r for r in (state.last_applied_revision, state.last_promoted_revision) if r]
    observation = replace(draw(observations(state)), target_revision=draw(st.sampled_from(known)))
    return policy, state, observation


@given(settled())
def test_a_finished_run_stays_put_until_a_new_revision(
    situation: tuple[Policy, CanaryState, Observation],
) -> None:
    policy, state, observation = situation

    decision = decide(policy, state, observation)

    assert decision.state.phase is state.phase
    assert not any(isinstance(action, PromoteTemplate) for action in decision.actions)
    assert all(action == SetWeights(100, 0) for action in weights_set(decision))


@st.composite
def failing_ticks(draw: st.DrawFn) -> tuple[Policy, CanaryState, Observation]:
    policy = replace(draw(policies()), skip_analysis=False)  # skipping analysis ignores checks
    state = draw(states(policy, [Phase.PROGRESSING, Phase.WAITING_PROMOTION]))
    bad = replace(draw(check_results), verdict=Verdict.FAIL)
    others = draw(st.lists(check_results, max_size=2))
    checks = tuple(draw(st.permutations([bad, *others])))
    return policy, state, replace(draw(observations(state)), checks=checks)


@given(failing_ticks())
def test_a_failing_check_never_raises_the_weight_nor_promotes(
    situation: tuple[Policy, CanaryState, Observation],
) -> None:
    policy, state, observation = situation

    decision = decide(policy, state, observation)

    assert decision.state.phase is not Phase.PROMOTING
    assert not any(isinstance(action, PromoteTemplate) for action in decision.actions)
    assert decision.state.canary_weight <= state.canary_weight
    assert all(action.canary <= state.canary_weight for action in weights_set(decision))


def new_release() -> tuple[CanaryState, World]:
    state = CanaryState(
        phase=Phase.SUCCEEDED,
        last_applied_revision=REV_A,
        last_promoted_revision=REV_A,
        phase_since=ago(3600),
    )
    return state, World(now=T0, target=REV_B, primary_revision=REV_A)


@settings(max_examples=60)
@given(policies(weighted_only=True), st.randoms(use_true_random=False))
def test_a_passing_run_walks_the_schedule_one_step_per_interval(
    policy: Policy, random: Random
) -> None:
    state, world = new_release()
    steps: list[tuple[datetime, int]] = []  # (when, canary weight) of each increase
    promoted_at: datetime | None = None
    for _ in range(1000):
        decision = cycle(policy, state, world)
        if decision.state.canary_weight > state.canary_weight:
            steps.append((world.now, decision.state.canary_weight))
        if any(isinstance(action, PromoteTemplate) for action in effects(decision)):
            promoted_at = promoted_at or world.now
        state = decision.state
        if state.phase is Phase.SUCCEEDED:
            break
        world.advance(random.uniform(0.5, 1.5 * policy.interval))
    assert state.phase is Phase.SUCCEEDED
    weights = tuple(weight for _, weight in steps)
    assert weights == weight_sequence(policy)
    assert weights[-1] == max_weight(policy)
    assert all(0 < weight <= max_weight(policy) for weight in weights)
    assert promoted_at is not None
    moments = [*(at for at, _ in steps), promoted_at]
    interval = timedelta(seconds=policy.interval)
    assert all(later - earlier >= interval for earlier, later in pairwise(moments))
    assert (state.last_promoted_revision, world.primary_revision) == (REV_B, REV_B)
    assert (world.route, world.canary_up) == ((100, 0), False)


@settings(max_examples=60)
@given(policies(), st.randoms(use_true_random=False))
def test_any_run_ends_and_never_promotes_a_failing_revision(policy: Policy, random: Random) -> None:
    state, world = new_release()
    for _ in range(2000):
        verdict = Verdict.FAIL if random.random() < 0.3 else Verdict.PASS
        decision = cycle(policy, state, world, verdict=verdict)
        assert decision.state.failed_checks <= policy.threshold
        state = decision.state
        if state.phase in {Phase.SUCCEEDED, Phase.FAILED}:
            break
        world.advance(random.uniform(0.5, 1.5 * policy.interval))
    assert state.phase in {Phase.SUCCEEDED, Phase.FAILED}
    assert (world.route, world.canary_up) == ((100, 0), False)
    if state.phase is Phase.FAILED:
        assert world.primary_revision == REV_A
    if strategy(policy) is Strategy.NONE and not policy.skip_analysis:
        assert state.phase is Phase.FAILED
