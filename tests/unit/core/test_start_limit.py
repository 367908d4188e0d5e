"""The cluster-wide limit of progressing canaries: a new run waits, a run under way never does."""

from __future__ import annotations

from canary.core.decide import decide
from canary.core.model import Phase, Policy, ScaleCanary, SetWeights
from tests.unit.core.world import (
    REV_A,
    REV_B,
    REV_C,
    T0,
    effects,
    observe,
    reasons,
    running,
    steady,
)

POLICY = Policy(interval=10, step_weight=10, max_weight=50)
FULL = "3 canaries are progressing (limit 3)"


def test_a_new_revision_waits_while_the_limit_is_reached() -> None:
    decision = decide(POLICY, steady(), observe(start_blocked=FULL))
    assert decision.state.phase is Phase.WAITING
    assert decision.state.message == f"New revision {REV_B} waits: {FULL}"
    assert decision.state.phase_since == T0
    assert reasons(decision) == ("Waiting",)
    assert not [a for a in effects(decision) if isinstance(a, ScaleCanary | SetWeights)]


def test_waiting_again_emits_no_new_event() -> None:
    waiting = decide(POLICY, steady(), observe(start_blocked=FULL)).state
    again = decide(POLICY, waiting, observe(start_blocked=FULL))
    assert again.state.phase is Phase.WAITING
    assert reasons(again) == ()


def test_a_waiting_revision_starts_once_there_is_room() -> None:
    waiting = decide(POLICY, steady(), observe(start_blocked=FULL)).state
    started = decide(POLICY, waiting, observe())
    assert started.state.phase is Phase.PROGRESSING
    assert started.state.last_applied_revision == REV_B
    assert started.again_in is not None  # the next cycle comes at once, or scales up


def test_a_revert_while_waiting_returns_to_steady_without_a_run() -> None:
    waiting = decide(POLICY, steady(), observe(start_blocked=FULL)).state
    back = decide(POLICY, waiting, observe(target_revision=REV_A, start_blocked=FULL))
    assert back.state.phase is Phase.INITIALIZED
    assert back.state.last_applied_revision == REV_A
    assert not [a for a in effects(back) if isinstance(a, ScaleCanary)]


def test_a_run_under_way_is_never_blocked_and_a_new_revision_still_restarts_it() -> None:
    state = running(canary_weight=20)
    restarted = decide(POLICY, state, observe(target_revision=REV_C, start_blocked=FULL))
    assert restarted.state.phase is Phase.PROGRESSING
    assert restarted.state.last_applied_revision == REV_C
