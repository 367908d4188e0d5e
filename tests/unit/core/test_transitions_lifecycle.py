"""Lifecycle transitions of `decide`, one table row each: initialization, steady phases,
hands-off phases, a new revision in the middle of a run, and promotion."""

from __future__ import annotations

import pytest

from canary.core.decide import decide
from canary.core.model import (
    CanaryState,
    Initialize,
    Phase,
    Policy,
    PromoteTemplate,
    SetWeights,
    WorkloadReadiness,
)
from tests.unit.core.table import DOWN, DUE, HOME, STEPS, Row, check
from tests.unit.core.world import (
    NOT_READY,
    REV_A,
    REV_B,
    REV_C,
    T0,
    ago,
    failing,
    observe,
    passing,
    running,
    steady,
)

INITIALIZING = CanaryState(phase=Phase.INITIALIZING, phase_since=ago(10))
NEVER_INITIALIZED = CanaryState(phase=Phase.FAILED, last_applied_revision=REV_B, phase_since=ago(9))

ROWS = [
    # -- initialization ------------------------------------------------------------------------
    Row(
        "initializing: creates what is missing",
        INITIALIZING,
        observe(initialized=False, primary=WorkloadReadiness(exists=False, ready=False)),
        Phase.INITIALIZING,
        (Initialize(),),
    ),
    Row(
        "initializing: waits for the primary, sending nothing (its objects exist)",
        INITIALIZING,
        observe(primary=NOT_READY),
        Phase.INITIALIZING,
        (),
        fields={
            "message": "Waiting for the primary to be ready: 1 of 2 updated replicas available",
            "hold_reason": "PrimaryNotReady",
            "stalled": False,
        },
    ),
    Row(
        "initializing: primary ready -> Initialized",
        INITIALIZING,
        observe(),
        Phase.INITIALIZED,
        (Initialize(),),
        ("Synced",),
        {"last_applied_revision": REV_B, "last_promoted_revision": REV_B, "phase_since": T0},
    ),
    Row(
        "initializing: skipAnalysis does not wait for the primary",
        INITIALIZING,
        observe(primary=NOT_READY),
        Phase.INITIALIZED,
        (Initialize(),),
        ("Synced",),
        policy=Policy(skip_analysis=True),
    ),
    Row(
        "initializing: primary past the deadline keeps waiting, stalled, with one warning",
        CanaryState(phase=Phase.INITIALIZING, phase_since=ago(601), hold_reason="PrimaryNotReady"),
        observe(primary=NOT_READY),
        Phase.INITIALIZING,
        (),
        ("PrimaryNotReady",),
        {
            "last_applied_revision": "",
            "last_promoted_revision": "",
            "hold_reason": "PrimaryNotReady",
            "stalled": True,
            "message": "The primary is not ready beyond the progress deadline of 600s; "
            "initialization keeps waiting for it: 1 of 2 updated replicas available",
        },
    ),
    Row(
        "initializing: still stalled -> no second warning",
        CanaryState(
            phase=Phase.INITIALIZING,
            phase_since=ago(900),
            hold_reason="PrimaryNotReady",
            stalled=True,
        ),
        observe(primary=NOT_READY),
        Phase.INITIALIZING,
        (),
        fields={"stalled": True},
    ),
    Row(
        "initializing: Kubernetes' ProgressDeadlineExceeded on the primary keeps waiting",
        INITIALIZING,
        observe(primary=WorkloadReadiness(exists=True, ready=False, deadline_exceeded=True)),
        Phase.INITIALIZING,
        (),
        ("PrimaryNotReady",),
        {"stalled": True},
    ),
    Row(
        "initializing: stalled primary becomes ready -> Initialized",
        CanaryState(
            phase=Phase.INITIALIZING,
            phase_since=ago(900),
            hold_reason="PrimaryNotReady",
            stalled=True,
        ),
        observe(),
        Phase.INITIALIZED,
        (Initialize(),),
        ("Synced",),
        {"last_promoted_revision": REV_B, "hold_reason": "", "stalled": False},
    ),
    Row(
        "failed initialization (an earlier controller's): resumes initialization",
        NEVER_INITIALIZED,
        observe(),
        Phase.INITIALIZING,
        (Initialize(),),
        ("Reinitialize",),
        {"phase_since": T0},
    ),
    Row(
        "failed initialization: a new revision retries it",
        NEVER_INITIALIZED,
        observe(target_revision=REV_C),
        Phase.INITIALIZING,
        (Initialize(),),
        ("NewRevision",),
        {"phase_since": T0},
    ),
    # -- steady phases -------------------------------------------------------------------------
    Row(
        "initialized: nothing to do",
        steady(Phase.INITIALIZED),
        observe(target_revision=REV_A),
        Phase.INITIALIZED,
    ),
    Row(
        "succeeded: new revision -> Progressing",
        steady(failed_checks=1, canary_weight=0),
        observe(),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
        {
            "last_applied_revision": REV_B,
            "failed_checks": 0,
            "last_step_at": None,
            "phase_since": T0,
        },
    ),
    Row(
        "initialized: new revision -> Progressing",
        steady(Phase.INITIALIZED),
        observe(),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
    ),
    Row(
        "failed: the failed revision is not retried",
        running(Phase.FAILED, failed_checks=2),
        observe(),
        Phase.FAILED,
        fields={"failed_checks": 2},
    ),
    Row(
        "failed: revert to the promoted revision starts no run",
        running(Phase.FAILED),
        observe(target_revision=REV_A),
        Phase.FAILED,
        (),
        ("Reverted",),
        {"last_applied_revision": REV_A},
    ),
    Row(
        "failed: re-applying after a revert starts a run",
        steady(Phase.FAILED),
        observe(),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
    ),
    Row(
        "failed: a manual retry (applied revision cleared) starts a run",
        running(Phase.FAILED, last_applied_revision=""),
        observe(),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
        {"last_applied_revision": REV_B},
    ),
    Row(
        "succeeded: drifted route is set back to 100/0",
        steady(),
        observe(target_revision=REV_A, route_weights=(70, 30)),
        Phase.SUCCEEDED,
        (HOME,),
        ("RouteRepaired",),
    ),
    Row(
        "failed: drifted route is set back to 100/0",
        running(Phase.FAILED),
        observe(route_weights=(0, 100)),
        Phase.FAILED,
        (HOME,),
        ("RouteRepaired",),
    ),
    Row(
        "succeeded: missing objects are recreated, target scaled down",
        steady(),
        observe(target_revision=REV_A, initialized=False),
        Phase.SUCCEEDED,
        (Initialize(scale_target_to_zero=True),),
        ("Reinitialize",),
    ),
    # -- hands off -----------------------------------------------------------------------------
    Row(
        "suspended: nothing at all, even past the deadline",
        running(canary_weight=30, phase_since=ago(5000), last_step_at=ago(5000)),
        observe(canary=NOT_READY, checks=(failing(),), route_weights=(0, 100)),
        Phase.PROGRESSING,
        policy=Policy(suspend=True, step_weights=(10, 30, 50)),
        fields={"canary_weight": 30, "phase_since": ago(5000)},
    ),
    Row(
        "terminating: left to the finalizer",
        running(Phase.TERMINATING),
        observe(target_revision=REV_C),
        Phase.TERMINATING,
    ),
    # -- new revision mid-run ------------------------------------------------------------------
    Row(
        "progressing: new revision restarts the analysis",
        running(canary_weight=30, failed_checks=1, last_step_at=DUE),
        observe(target_revision=REV_C, checks=(passing(),)),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
        {"last_applied_revision": REV_C, "canary_weight": 0, "failed_checks": 0},
    ),
    Row(
        "waiting promotion: new revision restarts the analysis",
        running(Phase.WAITING_PROMOTION, canary_weight=50),
        observe(target_revision=REV_C),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
    ),
    Row(
        "progressing: revert to the promoted revision also restarts",
        running(canary_weight=30),
        observe(target_revision=REV_A),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
        {"last_applied_revision": REV_A},
    ),
    Row(
        "promoting: new revision after the primary took the template",
        running(Phase.PROMOTING, canary_weight=50),
        observe(target_revision=REV_C, primary_revision=REV_B),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
        {"last_promoted_revision": REV_B, "last_applied_revision": REV_C},
    ),
    Row(
        "promoting: new revision before the primary took the template",
        running(Phase.PROMOTING, canary_weight=50),
        observe(target_revision=REV_C, primary_revision=REV_A),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
        {"last_promoted_revision": REV_A},
    ),
    Row(
        "finalising: new revision keeps the completed promotion",
        running(Phase.FINALISING),
        observe(target_revision=REV_C, primary_revision=REV_B),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
        {"last_promoted_revision": REV_B},
    ),
    # -- promotion -----------------------------------------------------------------------------
    Row(
        "promoting: primary still on the old template -> promote again",
        running(Phase.PROMOTING, canary_weight=50),
        observe(primary_revision=REV_A),
        Phase.PROMOTING,
        (PromoteTemplate(revision=REV_B),),
    ),
    Row(
        "promoting: primary rolling out -> wait",
        running(Phase.PROMOTING, canary_weight=50),
        observe(primary_revision=REV_B, primary=NOT_READY),
        Phase.PROMOTING,
        fields={"canary_weight": 50},
    ),
    Row(
        "promoting: primary ready -> all traffic back, Finalising",
        running(Phase.PROMOTING, canary_weight=50),
        observe(primary_revision=REV_B),
        Phase.FINALISING,
        (HOME,),
        ("Promoting",),
        {"canary_weight": 0, "phase_since": T0},
    ),
    Row(
        "promoting: stepWeightPromotion shifts one step per interval",
        running(Phase.PROMOTING, canary_weight=50, last_step_at=DUE),
        observe(primary_revision=REV_B),
        Phase.PROMOTING,
        (SetWeights(primary=70, canary=30),),
        ("Advance",),
        {"canary_weight": 30, "last_step_at": T0},
        policy=Policy(step_weights=(10, 30, 50), step_weight_promotion=20),
    ),
    Row(
        "promoting: stepWeightPromotion waits for the interval",
        running(Phase.PROMOTING, canary_weight=50, last_step_at=ago(30)),
        observe(primary_revision=REV_B, route_weights=(50, 50)),
        Phase.PROMOTING,
        policy=Policy(step_weights=(10, 30, 50), step_weight_promotion=20),
    ),
    Row(
        "promoting: the last promotion step finalises",
        running(Phase.PROMOTING, canary_weight=10, last_step_at=DUE),
        observe(primary_revision=REV_B),
        Phase.FINALISING,
        (HOME,),
        ("Promoting",),
        policy=Policy(step_weights=(10, 30, 50), step_weight_promotion=20),
    ),
    Row(
        "promoting: primary unready past the deadline -> rollback",
        running(Phase.PROMOTING, canary_weight=50, phase_since=ago(601), last_step_at=ago(601)),
        observe(primary_revision=REV_B, primary=NOT_READY),
        Phase.FAILED,
        (HOME, DOWN),
        ("DeadlineExceeded",),
    ),
    Row(
        "promoting: primary never takes the template -> rollback at the deadline",
        running(Phase.PROMOTING, canary_weight=50, phase_since=ago(601), last_step_at=ago(601)),
        observe(primary_revision=REV_A),
        Phase.FAILED,
        (HOME, DOWN),
        ("DeadlineExceeded",),
        {"last_promoted_revision": REV_A},
    ),
    Row(
        "finalising: canary scaled down -> Succeeded",
        running(Phase.FINALISING, iterations=2, failed_checks=1),
        observe(primary_revision=REV_B),
        Phase.SUCCEEDED,
        (HOME, DOWN),
        ("Succeeded",),
        {"last_promoted_revision": REV_B, "canary_weight": 0, "iterations": 0, "failed_checks": 1},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_transition(row: Row) -> None:
    check(row)


def test_row_ids_are_unique() -> None:
    assert len({row.id for row in ROWS}) == len(ROWS)


def test_a_fresh_canary_starts_its_phase_clock() -> None:
    decision = decide(STEPS, CanaryState(), observe(initialized=False))

    assert decision.state.phase_since == T0
