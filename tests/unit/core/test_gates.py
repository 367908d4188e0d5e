"""Webhook gates as the core sees them: a shut confirm-promotion gate holds a passing run in
WaitingPromotion; a rollback request rolls the run back; gates are asked only when they matter."""

from __future__ import annotations

from canary.core.decide import decide, would_start_run
from canary.core.model import Phase, Policy, PromoteTemplate, SetWeights
from tests.unit.core.world import (
    REV_A,
    REV_B,
    ago,
    effects,
    observe,
    passing,
    reasons,
    running,
    steady,
)

POLICY = Policy(interval=10, step_weight=10, max_weight=50, threshold=2)
SHUT = "confirm-promotion webhook 'gate' did not approve: HTTP 403"


def test_a_shut_promotion_gate_holds_the_run_at_max_weight() -> None:
    state = running(canary_weight=50, last_step_at=ago(60))
    held = decide(POLICY, state, observe(checks=(passing(),), promotion_blocked=SHUT))
    assert held.state.phase is Phase.WAITING_PROMOTION
    assert held.state.canary_weight == 50
    assert held.state.last_step_at is not None  # asks again one interval later, not at once
    assert not [a for a in effects(held) if isinstance(a, PromoteTemplate | SetWeights)]
    assert reasons(held) == ("WaitingPromotion",)
    assert SHUT in held.state.message


def test_an_opened_promotion_gate_promotes_at_the_next_tick() -> None:
    waiting = running(Phase.WAITING_PROMOTION, canary_weight=50, last_step_at=ago(60))
    promoted = decide(POLICY, waiting, observe(checks=(passing(),)))
    assert promoted.state.phase is Phase.PROMOTING
    assert PromoteTemplate(revision=REV_B) in effects(promoted)


def test_a_shut_traffic_increase_gate_holds_the_weight_without_counting_a_failure() -> None:
    state = running(canary_weight=20, last_step_at=ago(60))
    held = decide(POLICY, state, observe(checks=(passing(),), increase_blocked="not yet"))
    assert (held.state.canary_weight, held.state.failed_checks) == (20, 0)
    assert held.state.phase is Phase.PROGRESSING
    assert held.state.message == "Holding canary weight 20: not yet"
    assert held.state.last_step_at is not None
    assert not [a for a in effects(held) if isinstance(a, SetWeights)]


def test_a_rollback_request_rolls_the_run_back() -> None:
    state = running(canary_weight=20, last_step_at=ago(1))
    rolled = decide(POLICY, state, observe(rollback_requested="rollback requested by webhook 'x'"))
    assert rolled.state.phase is Phase.FAILED
    assert SetWeights(primary=100, canary=0) in effects(rolled)
    assert "rollback requested by webhook 'x'" in rolled.state.message


def test_gates_are_asked_only_when_a_run_would_start() -> None:
    assert would_start_run(steady(), observe())  # a new revision B over promoted A
    assert not would_start_run(steady(), observe(target_revision=REV_A))
    assert not would_start_run(steady(Phase.FAILED, last_applied_revision=REV_B), observe())
    assert not would_start_run(running(), observe())  # already running
    assert would_start_run(steady(Phase.WAITING, last_applied_revision=REV_A), observe())
