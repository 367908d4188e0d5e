"""Whole runs against the fake world and a fake clock: the timelines users will see."""

from __future__ import annotations

from datetime import timedelta

from canary.core.model import CanaryState, Phase, Policy, PromoteTemplate, Verdict
from canary.core.transitions import SCALE_UP_DELAY
from tests.unit.core.world import REV_A, REV_B, T0, World, ago, cycle

POLICY = Policy(interval=60, threshold=2, step_weights=(10, 30, 50), progress_deadline=600)


def released() -> tuple[CanaryState, World]:
    state = CanaryState(
        phase=Phase.SUCCEEDED,
        last_applied_revision=REV_A,
        last_promoted_revision=REV_A,
        phase_since=ago(3600),
    )
    return state, World(now=T0, target=REV_B, primary_revision=REV_A)


def run(
    policy: Policy, *, every: float, verdicts: dict[int, Verdict] | None = None
) -> tuple[list[tuple[int, str, int]], CanaryState, World]:
    """Cycle every `every` seconds until the run ends; the timeline of (second, phase, weight)
    at each change, stamped with the second its cycle began (the cycles a decision asks for
    itself run within it, the world's time passing meanwhile). `verdicts` maps a cycle number to
    the checks' verdict (default Pass)."""
    state, world = released()
    timeline: list[tuple[int, str, int]] = []
    for number in range(500):
        began = round((world.now - T0).total_seconds())
        verdict = (verdicts or {}).get(number, Verdict.PASS)
        decision = cycle(policy, state, world, verdict=verdict)
        moment = (decision.state.phase.value, decision.state.canary_weight)
        if not timeline or timeline[-1][1:] != moment:
            timeline.append((began, *moment))
        state = decision.state
        if state.phase in {Phase.SUCCEEDED, Phase.FAILED} and number > 0:
            break
        next_cycle = T0 + timedelta(seconds=every * (number + 1))
        world.advance(max(0.0, (next_cycle - world.now).total_seconds()))
    return timeline, state, world


def test_a_good_release_walks_10_30_50_then_promotes() -> None:
    timeline, state, world = run(POLICY, every=20)

    assert timeline == [
        (0, "Progressing", 0),  # new revision: acknowledged, the canary scaled up a second later
        (20, "Progressing", 10),  # canary ready: first step, no checks at weight 0
        (80, "Progressing", 30),  # one interval later, checks passed
        (140, "Progressing", 50),
        (200, "Promoting", 50),  # checks passed at max weight: primary gets the template
        (220, "Finalising", 0),  # primary runs it and is ready: all traffic back
        (240, "Succeeded", 0),  # canary scaled down
    ]
    assert (state.last_promoted_revision, world.primary_revision) == (REV_B, REV_B)
    assert (world.route, world.canary_up) == ((100, 0), False)


def test_restarts_every_second_never_step_faster_than_the_interval() -> None:
    timeline, _, _ = run(POLICY, every=1)

    steps = [second for second, phase, _ in timeline if phase == "Progressing"][1:]
    scaled_up = round(SCALE_UP_DELAY)  # the canary is scaled up, then steps an interval apart
    assert steps == [scaled_up, scaled_up + 60, scaled_up + 120]


def test_a_bad_release_rolls_back_on_the_second_failing_tick() -> None:
    # Cycles every 20 s: the tick at 80 s (cycle 4) fails, as does the next due one (140 s).
    timeline, state, world = run(POLICY, every=20, verdicts={4: Verdict.FAIL, 7: Verdict.FAIL})

    assert timeline == [
        (0, "Progressing", 0),
        (20, "Progressing", 10),
        (140, "Failed", 0),
    ]
    assert state.failed_checks == 2
    assert world.primary_revision == REV_A  # the primary never saw the failing template
    assert (world.route, world.canary_up) == ((100, 0), False)


def test_a_promotion_is_never_issued_on_a_failing_tick() -> None:
    state, world = released()
    policy = Policy(interval=60, threshold=10, step_weights=(50,))
    promotions = 0
    for _ in range(60):
        decision = cycle(policy, state, world, verdict=Verdict.FAIL)
        promotions += sum(isinstance(a, PromoteTemplate) for a in decision.actions)
        state = decision.state
        world.advance(30)

    assert promotions == 0
    assert state.phase is Phase.FAILED
    assert state.failed_checks == 10
