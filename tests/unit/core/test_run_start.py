"""A run starts in two cycles: the change is acknowledged (Progressing), then the canary scaled up.

The first cycle writes only what must change at once (the route only when it is not already on
the primary, unmirrored) and asks for a follow-up cycle; the follow-up scales the parked canary
up, and only a run that has taken no step yet does so.
"""

from __future__ import annotations

from dataclasses import replace

from canary.core.decide import decide
from canary.core.model import (
    Phase,
    Policy,
    ScaleCanary,
    SetWeights,
    WorkloadReadiness,
)
from tests.unit.core.world import REV_B, REV_C, T0, effects, observe, reasons, running, steady

POLICY = Policy(interval=60, threshold=2, step_weights=(10, 30, 50), progress_deadline=600)
PARKED = WorkloadReadiness(exists=True, ready=False, message="scaled to zero", parked=True)
HOME = (100, 0)


def test_a_new_revision_with_the_route_home_is_only_acknowledged() -> None:
    decision = decide(POLICY, steady(), observe(route_weights=HOME, canary=PARKED))

    assert decision.state.phase is Phase.PROGRESSING
    assert decision.state.last_applied_revision == REV_B
    assert effects(decision) == ()
    assert reasons(decision) == ("NewRevision",)
    assert decision.follow_up


def test_the_follow_up_scales_the_parked_canary_up_and_changes_nothing_else() -> None:
    started = decide(POLICY, steady(), observe(route_weights=HOME, canary=PARKED)).state

    follow_up = decide(POLICY, started, observe(route_weights=HOME, canary=PARKED))

    assert effects(follow_up) == (ScaleCanary(up=True),)
    assert reasons(follow_up) == ()
    assert follow_up.state == started
    assert not follow_up.follow_up


def test_a_route_not_known_to_be_home_is_set_in_the_first_cycle() -> None:
    for seen in (None, (70, 30)):
        decision = decide(POLICY, steady(), observe(route_weights=seen, canary=PARKED))
        assert effects(decision) == (SetWeights(primary=100, canary=0),), seen


def test_a_mirroring_run_always_sets_its_route() -> None:
    blue_green = Policy(interval=60, iterations=3, mirror=True, progress_deadline=600)

    decision = decide(blue_green, steady(), observe(route_weights=HOME, canary=PARKED))

    assert effects(decision) == (SetWeights(primary=100, canary=0, mirror=True),)


def test_a_restart_sets_the_route_even_at_weight_zero() -> None:
    state = running(canary_weight=0)

    decision = decide(POLICY, state, observe(target_revision=REV_C, route_weights=HOME))

    assert decision.state.last_applied_revision == REV_C
    assert effects(decision) == (SetWeights(primary=100, canary=0),)
    assert decision.follow_up


def test_a_canary_parked_after_the_first_step_is_waited_for_not_scaled() -> None:
    # A ScaledObject with minReplicaCount 0 may park it mid-run: no fight over the replicas.
    state = running(canary_weight=10, last_step_at=T0)

    decision = decide(POLICY, state, observe(route_weights=(90, 10), canary=PARKED))

    assert effects(decision) == ()
    assert decision.state.message == "Waiting for the canary to be ready: scaled to zero"


def test_a_canary_already_up_is_not_scaled_again() -> None:
    state = running(canary_weight=0)
    rolling = replace(PARKED, parked=False, message="0 of 1 updated replicas available")

    decision = decide(POLICY, state, observe(route_weights=HOME, canary=rolling))

    assert effects(decision) == ()
    assert decision.state.phase is Phase.PROGRESSING
