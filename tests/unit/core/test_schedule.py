"""The step schedule: max weight, next weight (never overshooting), promotion steps, pacing."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.core.model import CanaryState, Phase, Policy
from canary.core.schedule import (
    Strategy,
    checks_due,
    max_weight,
    next_promotion_weight,
    next_weight,
    strategy,
    tick_due,
    weight_sequence,
)
from tests.unit.core.world import T0, ago


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(Policy(step_weights=(10, 30, 50)), 50, id="stepWeights: last entry"),
        pytest.param(Policy(step_weights=(50, 150)), 100, id="stepWeights: capped at 100"),
        pytest.param(Policy(step_weights=(10, 60), max_weight=30), 60, id="stepWeights win"),
        pytest.param(Policy(step_weight=10, max_weight=50), 50, id="maxWeight"),
        pytest.param(Policy(step_weight=10, max_weight=0), 100, id="neither: 100"),
        pytest.param(Policy(step_weight=10, max_weight=500), 100, id="maxWeight capped at 100"),
    ],
)
def test_max_weight(policy: Policy, expected: int) -> None:
    assert max_weight(policy) == expected


@pytest.mark.parametrize(
    ("policy", "sequence"),
    [
        pytest.param(Policy(step_weights=(10, 30, 50)), (10, 30, 50), id="stepWeights"),
        pytest.param(Policy(step_weight=20, max_weight=50), (20, 40, 50), id="linear, clamped"),
        pytest.param(Policy(step_weight=25), (25, 50, 75, 100), id="linear to 100"),
        pytest.param(Policy(step_weight=60, max_weight=50), (50,), id="one clamped step"),
        pytest.param(Policy(step_weights=(5, 10, 10, 80)), (5, 10, 80), id="repeats skipped"),
        pytest.param(Policy(step_weight=10, step_weights=(5, 30)), (10, 20, 30), id="both set"),
        pytest.param(Policy(iterations=3, step_weight=10), (), id="iterations: no weights"),
        pytest.param(Policy(), (), id="no schedule"),
    ],
)
def test_weight_sequence(policy: Policy, sequence: tuple[int, ...]) -> None:
    assert weight_sequence(policy) == sequence


@pytest.mark.parametrize(
    ("policy", "current", "expected"),
    [
        pytest.param(Policy(step_weights=(10, 30, 50)), 20, 30, id="off-list weight: next above"),
        pytest.param(Policy(step_weights=(10, 30, 50)), 50, 50, id="at the top: stays"),
        pytest.param(Policy(step_weights=(10, 30, 50)), 70, 50, id="above the top: max"),
        pytest.param(Policy(), 0, 0, id="no schedule: no move"),
    ],
)
def test_next_weight(policy: Policy, current: int, expected: int) -> None:
    assert next_weight(policy, current) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(Policy(step_weight=10), Strategy.CANARY, id="stepWeight"),
        pytest.param(Policy(step_weights=(10,)), Strategy.CANARY, id="stepWeights"),
        pytest.param(Policy(step_weight=10, iterations=2), Strategy.ITERATIONS, id="iterations"),
        pytest.param(Policy(step_weights=(0,)), Strategy.NONE, id="zero weights"),
        pytest.param(Policy(), Strategy.NONE, id="nothing"),
    ],
)
def test_strategy(policy: Policy, expected: Strategy) -> None:
    assert strategy(policy) is expected


@pytest.mark.parametrize(
    ("step", "current", "expected"),
    [(0, 50, 0), (20, 50, 30), (20, 10, 0), (50, 50, 0)],
    ids=["at once", "one step", "clamped at 0", "exact"],
)
def test_next_promotion_weight(step: int, current: int, expected: int) -> None:
    assert next_promotion_weight(Policy(step_weight_promotion=step), current) == expected


WEIGHTED = Policy(interval=60, step_weights=(10, 30, 50))
ITERATIONS = Policy(interval=60, iterations=3)


@pytest.mark.parametrize(
    ("policy", "state", "now", "due", "checks"),
    [
        pytest.param(
            WEIGHTED,
            CanaryState(phase=Phase.PROGRESSING),
            T0,
            True,
            False,
            id="first step: due, not judged",
        ),
        pytest.param(
            ITERATIONS,
            CanaryState(phase=Phase.PROGRESSING),
            T0,
            True,
            True,
            id="iterations: first tick judged",
        ),
        pytest.param(
            WEIGHTED,
            CanaryState(phase=Phase.PROGRESSING, canary_weight=10, last_step_at=ago(59)),
            T0,
            False,
            False,
            id="before the interval",
        ),
        pytest.param(
            WEIGHTED,
            CanaryState(phase=Phase.PROGRESSING, canary_weight=10, last_step_at=ago(60)),
            T0,
            True,
            True,
            id="at the interval",
        ),
        pytest.param(
            WEIGHTED,
            CanaryState(phase=Phase.WAITING_PROMOTION, canary_weight=50, last_step_at=ago(61)),
            T0,
            True,
            True,
            id="waiting promotion",
        ),
        pytest.param(
            WEIGHTED,
            CanaryState(phase=Phase.PROMOTING, canary_weight=50, last_step_at=ago(61)),
            T0,
            True,
            False,
            id="promoting: paced, no checks",
        ),
        pytest.param(
            Policy(skip_analysis=True, step_weight=10),
            CanaryState(phase=Phase.PROGRESSING, canary_weight=10),
            T0,
            True,
            False,
            id="skipAnalysis: no checks",
        ),
        pytest.param(
            WEIGHTED, CanaryState(phase=Phase.SUCCEEDED), T0, False, False, id="steady: never"
        ),
    ],
)
def test_pacing(
    policy: Policy, state: CanaryState, now: datetime, *, due: bool, checks: bool
) -> None:
    assert tick_due(policy, state, now) is due
    assert checks_due(policy, state, now) is checks


policies = st.one_of(
    st.builds(Policy, step_weight=st.integers(1, 100), max_weight=st.integers(0, 120)),
    st.builds(
        Policy,
        step_weights=st.lists(st.integers(-5, 120), min_size=1, max_size=6).map(tuple),
        step_weight=st.just(0),
    ),
)


@given(policies, st.integers(0, 100))
def test_next_weight_never_exceeds_max(policy: Policy, current: int) -> None:
    assert 0 <= next_weight(policy, current) <= max_weight(policy)


@given(policies)
def test_weight_sequence_rises_to_max(policy: Policy) -> None:
    sequence = weight_sequence(policy)

    assert list(sequence) == sorted(set(sequence))
    assert all(0 < weight <= max_weight(policy) for weight in sequence)
    if sequence:
        assert sequence[-1] == max_weight(policy)
