"""Rule 5 of `decide`: while the API server is unreachable an analysis tick is held, never counted,
and the next one comes a full interval after the controller could write again."""

from __future__ import annotations

from datetime import timedelta

import pytest

from canary.core.decide import decide
from canary.core.model import Phase, Policy, SetWeights
from canary.core.schedule import checks_due
from tests.unit.core.world import (
    REV_B,
    REV_C,
    T0,
    ago,
    effects,
    failing,
    observe,
    passing,
    reasons,
    running,
)

POLICY = Policy(interval=10, step_weight=10, max_weight=50, threshold=2)
OUTAGE = "the API server has not answered PUT canaries/status for 12 s"


def test_a_failed_check_during_an_outage_is_not_counted() -> None:
    state = running(canary_weight=20, failed_checks=1, last_step_at=ago(60))
    held = decide(POLICY, state, observe(checks=(failing(value=None),), api_unreachable=OUTAGE))
    assert held.state.phase is Phase.PROGRESSING  # threshold 2 would have rolled back
    assert (held.state.failed_checks, held.state.canary_weight) == (1, 20)
    assert held.state.checks == state.checks  # the outage's results are not recorded
    assert effects(held) == ()
    assert reasons(held) == ("AnalysisHeld",)
    assert OUTAGE in held.state.message


def test_a_passing_tick_during_an_outage_does_not_step_either() -> None:
    state = running(canary_weight=20, last_step_at=ago(60))
    held = decide(POLICY, state, observe(checks=(passing(),), api_unreachable=OUTAGE))
    assert held.state.canary_weight == 20
    assert not [a for a in held.actions if isinstance(a, SetWeights)]


@pytest.mark.parametrize("since_last_step", [3.0, 60.0, 3600.0])
def test_the_next_tick_is_one_full_interval_after_the_hold(since_last_step: float) -> None:
    """Never catching up: however late the tick was, the interval restarts at the hold."""
    state = running(canary_weight=20, last_step_at=ago(since_last_step))
    held = decide(POLICY, state, observe(api_unreachable=OUTAGE)).state
    assert held.last_step_at == T0
    assert not checks_due(POLICY, held, T0 + timedelta(seconds=POLICY.interval - 0.1))
    assert checks_due(POLICY, held, T0 + timedelta(seconds=POLICY.interval))


def test_after_the_hold_the_run_goes_on_where_it_was() -> None:
    state = running(canary_weight=20, failed_checks=1, last_step_at=ago(60))
    held = decide(POLICY, state, observe(api_unreachable=OUTAGE)).state
    later = T0 + timedelta(seconds=POLICY.interval)
    resumed = decide(POLICY, held, observe(now=later, checks=(passing(),))).state
    assert (resumed.canary_weight, resumed.failed_checks) == (30, 1)
    assert not resumed.message.startswith("Analysis held")


def test_each_held_cycle_that_says_something_new_records_an_event() -> None:
    """Events sent during the outage are lost; the hold after it must still be recorded."""
    state = running(canary_weight=20, last_step_at=ago(60))
    during = decide(POLICY, state, observe(api_unreachable=OUTAGE))
    after = "the API server did not answer (no answer) 3 s ago"
    later = observe(now=T0 + timedelta(seconds=30), api_unreachable=after)
    again = decide(POLICY, during.state, later)
    repeated = decide(POLICY, again.state, later)
    assert reasons(during) == reasons(again) == ("AnalysisHeld",)
    assert after in again.state.message
    assert reasons(repeated) == ()


def test_waiting_promotion_is_held_too() -> None:
    state = running(Phase.WAITING_PROMOTION, canary_weight=50, last_step_at=ago(60))
    held = decide(POLICY, state, observe(checks=(passing(),), api_unreachable=OUTAGE))
    assert held.state.phase is Phase.WAITING_PROMOTION
    assert held.state.last_step_at == T0


def test_the_earlier_rules_still_apply_during_an_outage() -> None:
    """A new revision restarts the run, and an abort request rolls back: neither is a tick."""
    state = running(canary_weight=20, last_step_at=ago(60))
    restarted = decide(POLICY, state, observe(target_revision=REV_C, api_unreachable=OUTAGE))
    assert restarted.state.last_applied_revision == REV_C
    aborted = decide(POLICY, state, observe(abort_revision=REV_B, api_unreachable=OUTAGE))
    assert aborted.state.phase is Phase.FAILED


def test_steady_phases_ignore_the_outage() -> None:
    state = running(Phase.PROMOTING, canary_weight=50, last_step_at=ago(60))
    promoting = decide(POLICY, state, observe(primary_revision=REV_B, api_unreachable=OUTAGE))
    assert promoting.state.phase is Phase.FINALISING
