"""Manual requests: pause holds everything, abort and promote apply to their revision only, retry
runs a failed revision again once; and mirroring of a blue/green run."""

from __future__ import annotations

from canary.core.decide import PAUSED_MESSAGE, decide, would_start_run
from canary.core.model import Phase, Policy, PromoteTemplate, ScaleCanary, SetWeights
from tests.unit.core.world import (
    REV_B,
    REV_C,
    T0,
    ago,
    effects,
    observe,
    passing,
    reasons,
    running,
)

POLICY = Policy(interval=10, step_weight=10, max_weight=50, threshold=2)


def test_a_paused_canary_does_not_move_and_says_so_once() -> None:
    state = running(canary_weight=20, last_step_at=ago(60))
    paused = decide(POLICY, state, observe(paused=True, checks=(passing(),)))
    assert paused.state.canary_weight == 20
    assert paused.state.message == PAUSED_MESSAGE
    assert reasons(paused) == ("Paused",)
    again = decide(POLICY, paused.state, observe(paused=True, checks=(passing(),)))
    assert effects(again) == ()


def test_resuming_continues_where_it_was() -> None:
    state = running(canary_weight=20, last_step_at=ago(60), message=PAUSED_MESSAGE)
    resumed = decide(POLICY, state, observe(checks=(passing(),)))
    assert resumed.state.canary_weight == 30
    assert SetWeights(primary=70, canary=30) in effects(resumed)


def test_abort_rolls_back_the_named_revision_at_once() -> None:
    state = running(canary_weight=30, last_step_at=ago(1))
    aborted = decide(POLICY, state, observe(abort_revision=REV_B))
    assert aborted.state.phase is Phase.FAILED
    assert SetWeights(primary=100, canary=0) in effects(aborted)
    assert ScaleCanary(up=False) in effects(aborted)
    assert "Aborted" in reasons(aborted)
    assert "aborted by request" in aborted.state.message


def test_an_abort_of_an_older_revision_does_not_touch_a_newer_run() -> None:
    state = running(canary_weight=30, last_step_at=ago(1), last_applied_revision=REV_C)
    decision = decide(POLICY, state, observe(target_revision=REV_C, abort_revision=REV_B))
    assert decision.state.phase is Phase.PROGRESSING


def test_promote_skips_the_remaining_steps_once_the_checks_pass() -> None:
    state = running(canary_weight=10, last_step_at=ago(60))
    promoted = decide(POLICY, state, observe(promote_revision=REV_B, checks=(passing(),)))
    assert promoted.state.phase is Phase.PROMOTING
    assert PromoteTemplate(revision=REV_B) in effects(promoted)


def test_promote_never_skips_the_checks() -> None:
    state = running(canary_weight=10, last_step_at=ago(60))
    waiting = decide(POLICY, state, observe(promote_revision=REV_B))  # checks not run yet
    assert waiting.state.phase is Phase.PROGRESSING
    assert not [a for a in effects(waiting) if isinstance(a, PromoteTemplate)]


def test_retry_runs_the_failed_revision_again_once() -> None:
    state = running(Phase.FAILED, phase_since=ago(120), last_step_at=ago(120), failed_checks=2)
    retried = decide(POLICY, state, observe(retry_revision=REV_B, retry_failed_at=ago(120)))
    assert retried.state.phase is Phase.PROGRESSING
    assert retried.state.failed_checks == 0
    assert retried.again_in == 0.0  # the canary is up: the analysis goes on at once
    assert reasons(retried) == ("NewRevision", "Retry")
    assert would_start_run(state, observe(retry_revision=REV_B, retry_failed_at=ago(120)))


def test_a_retry_about_an_earlier_failure_is_not_honoured_again() -> None:
    # The retried run failed again later: the old request names the earlier failure.
    state = running(Phase.FAILED, phase_since=ago(10), last_step_at=ago(10))
    seen = observe(retry_revision=REV_B, retry_failed_at=ago(120))
    assert decide(POLICY, state, seen).state.phase is Phase.FAILED
    assert effects(decide(POLICY, state, seen)) == ()
    assert not would_start_run(state, seen)


def test_a_retry_of_another_revision_does_nothing() -> None:
    state = running(Phase.FAILED, phase_since=ago(120), last_step_at=ago(120))
    seen = observe(retry_revision=REV_C, retry_failed_at=ago(120))
    assert decide(POLICY, state, seen).state.phase is Phase.FAILED


def test_a_mirrored_blue_green_run_starts_mirroring_and_repairs_with_the_mirror() -> None:
    policy = Policy(interval=10, iterations=3, mirror=True)
    state = running(Phase.SUCCEEDED, last_applied_revision=REV_C, last_promoted_revision=REV_C)
    started = decide(policy, state, observe(primary_revision=REV_C))
    assert SetWeights(primary=100, canary=0, mirror=True) in effects(started)
    drifted = decide(
        policy,
        running(iterations=1, last_step_at=ago(1)),
        observe(route_weights=(90, 10)),
    )
    assert effects(drifted) == (SetWeights(primary=100, canary=0, mirror=True),)


def test_mirroring_stops_when_the_run_fails() -> None:
    policy = Policy(interval=10, iterations=3, mirror=True)
    state = running(iterations=1, last_step_at=ago(60))
    failed = decide(policy, state, observe(abort_revision=REV_B))
    assert SetWeights(primary=100, canary=0) in effects(failed)


def test_a_blue_green_run_judges_its_first_tick_one_interval_after_it_starts() -> None:
    policy = Policy(interval=10, iterations=3)
    state = running(Phase.SUCCEEDED, last_applied_revision=REV_C, last_promoted_revision=REV_C)
    started = decide(policy, state, observe(primary_revision=REV_C))
    assert started.state.phase is Phase.PROGRESSING
    assert started.state.last_step_at == T0
    weighted = decide(POLICY, state, observe(primary_revision=REV_C))
    assert weighted.state.last_step_at is None  # a weighted run's first step is unjudged
