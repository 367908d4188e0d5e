"""`canary status`'s rule: promoted, failed, or still progressing, about the target as it is now."""

from __future__ import annotations

from typing import Any

import pytest

from canary.cli.views.verdict import Outcome, Target, Verdict, judge, timed_out
from canary.views.summary import summary_of
from tests.unit.cli.objects import canary, check

CURRENT = "c3c3c3c3c3c3c3c3"
OLD = "b2b2b2b2b2b2b2b2"


def _judge(obj: dict[str, Any], target: Target | None = None) -> Verdict:
    return judge(summary_of(obj), target or Target(CURRENT))


def test_succeeded_about_the_target_as_it_is_is_promoted() -> None:
    verdict = _judge(canary(phase="Succeeded", weight=0, applied=CURRENT, promoted=CURRENT))
    assert verdict.outcome is Outcome.PROMOTED
    assert verdict.headline == f"podinfo: promoted: the primary runs revision {CURRENT}"


def test_initialized_with_nothing_to_release_counts_as_promoted() -> None:
    verdict = _judge(canary(phase="Initialized", weight=0, applied=CURRENT, promoted=CURRENT))
    assert verdict.outcome is Outcome.PROMOTED
    assert "nothing to release" in verdict.headline


@pytest.mark.parametrize("phase", ["Succeeded", "Initialized", "Failed"])
def test_a_settled_status_about_an_older_revision_is_still_progressing(phase: str) -> None:
    """Right after a pipeline changed the target, before the controller noticed."""
    verdict = _judge(canary(phase=phase, applied=OLD, promoted=OLD))
    assert verdict.outcome is Outcome.PROGRESSING
    assert f"revision {CURRENT} of the target is not picked up yet" in verdict.headline


def test_failed_about_the_current_revision_is_rolled_back_with_the_failing_checks() -> None:
    checks = [
        check("request-success-rate", 70.2, passed=False, minimum=99, message="70.2 < 99"),
        check("request-duration", 12, maximum=500),
    ]
    obj = canary(
        phase="Failed",
        weight=0,
        applied=CURRENT,
        checks=checks,
        ready=("False", "Failed", f"Rolling back revision {CURRENT}: failed checks threshold"),
    )
    verdict = _judge(obj)
    assert verdict.outcome is Outcome.FAILED
    assert verdict.headline == f"podinfo: rolled back: revision {CURRENT} failed"
    assert verdict.details == (
        f"  Rolling back revision {CURRENT}: failed checks threshold",
        "failing checks:",
        "  ✗ request-success-rate = 70.2 (accepted >= 99): 70.2 < 99",
    )


def test_a_spec_the_controller_refuses_fails_at_once() -> None:
    obj = canary(phase=None, ready=("False", "Unsupported", "not supported: spec.analysis.match"))
    verdict = _judge(obj)
    assert verdict.outcome is Outcome.FAILED
    assert verdict.headline == (
        "podinfo: cannot be released (Unsupported): not supported: spec.analysis.match"
    )


def test_a_refusal_about_an_older_generation_does_not_count() -> None:
    obj = canary(phase=None, generation=2, observed=1, ready=("False", "InvalidSpec", "bad"))
    verdict = _judge(obj)
    assert verdict.outcome is Outcome.PROGRESSING
    assert "generation 2" in verdict.headline


def test_a_canary_being_deleted_has_failed() -> None:
    assert _judge(canary(deleting=True)).outcome is Outcome.FAILED
    assert _judge(canary(phase="Terminating")).outcome is Outcome.FAILED


def test_a_run_under_way_reports_phase_weight_and_failed_checks() -> None:
    verdict = _judge(canary(applied=CURRENT))
    assert verdict.outcome is Outcome.PROGRESSING
    assert verdict.headline == (
        "podinfo: Progressing, canary weight 30%, failed checks 1/2: Advanced canary weight to 30"
    )


def test_a_missing_target_is_waited_for() -> None:
    target = Target(None, "the target Deployment 'podinfo' does not exist", missing=True)
    verdict = _judge(canary(phase="Succeeded", applied=OLD, promoted=OLD), target)
    assert verdict.outcome is Outcome.PROGRESSING
    assert verdict.headline.endswith("does not exist")


def test_an_unknown_target_revision_leaves_the_phase_to_decide_and_says_so() -> None:
    target = Target(None, "cannot read the ConfigMaps and Secrets it uses: forbidden")
    verdict = _judge(canary(phase="Succeeded", applied=OLD, promoted=OLD), target)
    assert verdict.outcome is Outcome.PROMOTED
    assert verdict.details == (
        (
            "note: judged by phase only; the target's revision is unknown (cannot read the "
            "ConfigMaps and Secrets it uses: forbidden)"
        ),
    )


def test_timing_out_keeps_what_was_last_seen() -> None:
    last = _judge(canary(applied=CURRENT))
    verdict = timed_out(last, name="podinfo", waited="5s")
    assert verdict.outcome is Outcome.TIMED_OUT
    assert verdict.headline == f"timed out after 5s; {last.headline}"
    assert timed_out(None, name="podinfo", waited="5s").headline == (
        "timed out after 5s; podinfo: no status seen"
    )


def test_a_conflict_with_another_canary_fails_at_once() -> None:
    obj = canary(phase=None, ready=("False", "Conflict", "podinfo is held by Canary shop/other"))
    verdict = _judge(obj)
    assert verdict.outcome is Outcome.FAILED
    assert "(Conflict): podinfo is held by Canary shop/other" in verdict.headline


@pytest.mark.parametrize(
    ("phase", "applied"),
    [("Progressing", CURRENT), ("Succeeded", OLD), (None, "")],
    ids=["under way", "not picked up", "new"],
)
def test_a_problem_the_controller_keeps_retrying_is_in_the_line(
    phase: str | None, applied: str
) -> None:
    obj = canary(
        phase=phase,
        applied=applied,
        ready=("False", "ReconcileFailed", "reconcile cycles keep failing: services is forbidden"),
    )
    verdict = _judge(obj)
    assert verdict.outcome is Outcome.PROGRESSING
    assert verdict.headline.endswith(
        "; not progressing (ReconcileFailed): reconcile cycles keep failing: services is forbidden"
    )


def test_a_rollback_is_not_a_problem_of_the_controller() -> None:
    obj = canary(phase="Failed", applied=OLD, ready=("False", "Failed", "Rolling back"))
    assert "not progressing" not in _judge(obj).headline
