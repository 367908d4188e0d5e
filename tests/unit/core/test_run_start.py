"""A run starts in two steps: the change is acknowledged (Progressing), then the canary scaled up.

The first cycle writes only what must change at once (the route only when it is not already on
the primary, unmirrored) and asks for another cycle `SCALE_UP_DELAY` later; that one scales the
parked canary up and records the `NewRevision` event, once. Only a run that has taken no step yet
does so. A canary that is not parked has nothing to wait for.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from canary.core.decide import decide
from canary.core.model import (
    Observation,
    Phase,
    Policy,
    RecordEvent,
    ScaleCanary,
    SetWeights,
    WorkloadReadiness,
)
from canary.core.transitions import SCALE_UP_DELAY, SCALING_UP
from tests.unit.core.world import (
    REV_B,
    REV_C,
    T0,
    effects,
    observe,
    reasons,
    running,
    steady,
)

POLICY = Policy(interval=60, threshold=2, step_weights=(10, 30, 50), progress_deadline=600)
PARKED = WorkloadReadiness(exists=True, ready=False, message="scaled to zero", parked=True)
HOME = (100, 0)


def later(seconds: float) -> Observation:
    return observe(now=T0 + timedelta(seconds=seconds), route_weights=HOME, canary=PARKED)


def test_a_new_revision_with_the_route_home_is_only_acknowledged() -> None:
    decision = decide(POLICY, steady(), observe(route_weights=HOME, canary=PARKED))

    assert decision.state.phase is Phase.PROGRESSING
    assert decision.state.last_applied_revision == REV_B
    assert effects(decision) == ()
    assert reasons(decision) == ()  # announced with the scale-up
    assert decision.again_in == SCALE_UP_DELAY


def test_the_canary_is_scaled_up_and_the_run_announced_once_the_delay_passed() -> None:
    started = decide(POLICY, steady(), observe(route_weights=HOME, canary=PARKED)).state

    scaled = decide(POLICY, started, later(SCALE_UP_DELAY))

    assert effects(scaled) == (ScaleCanary(up=True),)
    assert reasons(scaled) == ("NewRevision",)
    event = scaled.actions[-1]
    assert isinstance(event, RecordEvent)
    assert event.message == f"New revision {REV_B} detected, scaling up the canary"
    assert scaled.state == replace(started, message=SCALING_UP)
    assert scaled.again_in is None  # the phase's pace again


def test_a_blue_green_runs_first_tick_is_due_an_interval_after_the_scale_up() -> None:
    """The interval of traffic a paced run gives the canary before judging it starts when the
    canary does; counted from the acknowledgement, the delay would shorten it."""
    blue_green = Policy(interval=2, threshold=2, iterations=3, progress_deadline=600)
    started = decide(blue_green, steady(), observe(route_weights=HOME, canary=PARKED)).state
    assert started.last_step_at == T0  # paced from the acknowledgement...

    scaled = decide(blue_green, started, later(SCALE_UP_DELAY)).state

    assert scaled.last_step_at == T0 + timedelta(seconds=SCALE_UP_DELAY)  # ...then the scale-up
    ready = WorkloadReadiness(exists=True, ready=True, message="ready")
    for seconds in (SCALE_UP_DELAY + 0.1, SCALE_UP_DELAY + 1.9):
        seen = observe(now=T0 + timedelta(seconds=seconds), route_weights=HOME, canary=ready)
        waiting = decide(blue_green, scaled, seen)
        assert effects(waiting) == (), seconds
        assert waiting.state.iterations == 0, seconds
        assert waiting.state.message.endswith("waiting for the next tick"), seconds
    due = observe(now=T0 + timedelta(seconds=SCALE_UP_DELAY + 2), route_weights=HOME, canary=ready)
    assert decide(blue_green, scaled, due).state.message.endswith("waiting for the checks to run")


def test_a_weighted_runs_scale_up_leaves_its_first_step_unpaced() -> None:
    started = decide(POLICY, steady(), observe(route_weights=HOME, canary=PARKED)).state
    assert started.last_step_at is None
    assert decide(POLICY, started, later(SCALE_UP_DELAY)).state.last_step_at is None


def test_a_canary_still_seen_parked_after_its_scale_up_is_scaled_again_not_announced() -> None:
    started = decide(POLICY, steady(), observe(route_weights=HOME, canary=PARKED)).state
    scaled = decide(POLICY, started, later(SCALE_UP_DELAY)).state

    again = decide(POLICY, scaled, later(SCALE_UP_DELAY + 0.5))  # its watch event not in yet

    assert effects(again) == (ScaleCanary(up=True),)
    assert reasons(again) == ()
    assert again.state == scaled


def test_a_cycle_within_the_delay_changes_nothing_and_asks_for_the_rest_of_it() -> None:
    started = decide(POLICY, steady(), observe(route_weights=HOME, canary=PARKED)).state

    early = decide(POLICY, started, later(SCALE_UP_DELAY / 4))

    assert effects(early) == ()
    assert reasons(early) == ()
    assert early.state == started
    assert early.again_in == SCALE_UP_DELAY * 3 / 4


def test_a_route_not_known_to_be_home_is_set_in_the_first_cycle() -> None:
    for seen in (None, (70, 30)):
        decision = decide(POLICY, steady(), observe(route_weights=seen, canary=PARKED))
        assert effects(decision) == (SetWeights(primary=100, canary=0),), seen
        assert decision.again_in == SCALE_UP_DELAY


def test_a_mirroring_run_always_sets_its_route() -> None:
    blue_green = Policy(interval=60, iterations=3, mirror=True, progress_deadline=600)

    decision = decide(blue_green, steady(), observe(route_weights=HOME, canary=PARKED))

    assert effects(decision) == (SetWeights(primary=100, canary=0, mirror=True),)


def test_a_restart_sets_the_route_and_announces_at_once_with_the_canary_up() -> None:
    state = running(canary_weight=0)

    decision = decide(POLICY, state, observe(target_revision=REV_C, route_weights=HOME))

    assert decision.state.last_applied_revision == REV_C
    assert effects(decision) == (SetWeights(primary=100, canary=0),)
    assert reasons(decision) == ("NewRevision",)
    assert decision.again_in == 0.0  # nothing to scale up: the analysis goes on at once


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
