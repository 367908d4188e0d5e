"""Analysis transitions of `decide`, one table row each: waiting for the canary, pacing,
judging checks, stepping, promoting, failing; weighted and iterations runs."""

from __future__ import annotations

import pytest

from canary.core.decide import decide
from canary.core.model import (
    Initialize,
    Phase,
    Policy,
    PromoteTemplate,
    RecordEvent,
    SetWeights,
    WorkloadReadiness,
)
from tests.unit.core.table import DOWN, DUE, HOME, STEPS, Row, check
from tests.unit.core.world import (
    NOT_READY,
    REV_B,
    T0,
    ago,
    failing,
    observe,
    passing,
    running,
)

ALL_TO_CANARY = SetWeights(primary=0, canary=100)

ROWS = [
    # -- progressing ---------------------------------------------------------------------------
    Row(
        "progressing: canary not ready holds",
        running(canary_weight=10, last_step_at=DUE),
        observe(canary=NOT_READY, checks=(passing(),)),
        Phase.PROGRESSING,
        fields={"canary_weight": 10, "last_step_at": ago(60)},
    ),
    Row(
        "progressing: canary unready past the deadline -> rollback",
        running(canary_weight=10, phase_since=ago(900), last_step_at=ago(601)),
        observe(canary=NOT_READY),
        Phase.FAILED,
        (HOME, DOWN),
        ("DeadlineExceeded",),
        {"canary_weight": 0, "phase_since": T0},
    ),
    Row(
        "progressing: Kubernetes' ProgressDeadlineExceeded -> rollback at once",
        running(canary_weight=10, last_step_at=DUE),
        observe(canary=WorkloadReadiness(exists=True, ready=False, deadline_exceeded=True)),
        Phase.FAILED,
        (HOME, DOWN),
        ("DeadlineExceeded",),
    ),
    Row(
        "progressing: deadline clock restarts at the last step",
        running(canary_weight=10, phase_since=ago(2000), last_step_at=ago(100)),
        observe(canary=NOT_READY),
        Phase.PROGRESSING,
    ),
    Row(
        "progressing: first step needs no checks",
        running(),
        observe(),
        Phase.PROGRESSING,
        (SetWeights(primary=90, canary=10),),
        ("Advance",),
        {"canary_weight": 10, "last_step_at": T0},
    ),
    Row(
        "progressing: first step with a failing pre-rollout check fails closed",
        running(),
        observe(checks=(failing("pre-rollout"),)),
        Phase.PROGRESSING,
        (),
        ("CheckFailed",),
        {"canary_weight": 0, "failed_checks": 1},
    ),
    Row(
        "progressing: before the interval nothing moves",
        running(canary_weight=10, last_step_at=ago(59)),
        observe(checks=(passing(),), route_weights=(90, 10)),
        Phase.PROGRESSING,
        fields={"canary_weight": 10},
    ),
    Row(
        "progressing: due but no checks run -> wait",
        running(canary_weight=10, last_step_at=DUE),
        observe(route_weights=(90, 10)),
        Phase.PROGRESSING,
        fields={"canary_weight": 10, "last_step_at": ago(60)},
    ),
    Row(
        "progressing: checks pass -> next weight",
        running(canary_weight=10, last_step_at=DUE),
        observe(checks=(passing(),)),
        Phase.PROGRESSING,
        (SetWeights(primary=70, canary=30),),
        ("Advance",),
        {"canary_weight": 30, "last_step_at": T0},
    ),
    Row(
        "progressing: a failing check counts and holds the weight",
        running(canary_weight=30, last_step_at=DUE),
        observe(checks=(passing("latency"), failing())),
        Phase.PROGRESSING,
        (),
        ("CheckFailed",),
        {"canary_weight": 30, "failed_checks": 1, "last_step_at": T0},
    ),
    Row(
        "progressing: threshold reached -> rollback in the same tick",
        running(canary_weight=30, failed_checks=1, last_step_at=DUE),
        observe(checks=(failing(value=None),)),
        Phase.FAILED,
        (HOME, DOWN),
        ("Rollback",),
        {"canary_weight": 0, "failed_checks": 2, "phase_since": T0},
    ),
    Row(
        "progressing: checks pass at max weight -> Promoting",
        running(canary_weight=50, last_step_at=DUE),
        observe(checks=(passing(),)),
        Phase.PROMOTING,
        (PromoteTemplate(revision=REV_B),),
        ("Promoting",),
        {"canary_weight": 50, "phase_since": T0},
    ),
    Row(
        "waiting promotion: checks pass -> Promoting",
        running(Phase.WAITING_PROMOTION, canary_weight=50, last_step_at=DUE),
        observe(checks=(passing(),)),
        Phase.PROMOTING,
        (PromoteTemplate(revision=REV_B),),
        ("Promoting",),
    ),
    Row(
        "progressing: linear steps stop at maxWeight",
        running(canary_weight=40, last_step_at=DUE),
        observe(checks=(passing(),)),
        Phase.PROGRESSING,
        (SetWeights(primary=50, canary=50),),
        ("Advance",),
        policy=Policy(step_weight=20, max_weight=50),
    ),
    Row(
        "progressing: drifted route is set back to the state's weights",
        running(canary_weight=30, last_step_at=ago(10)),
        observe(route_weights=(100, 0)),
        Phase.PROGRESSING,
        (SetWeights(primary=70, canary=30),),
        ("RouteRepaired",),
    ),
    Row(
        "progressing: missing objects are recreated, canary kept running",
        running(canary_weight=30, last_step_at=ago(10)),
        observe(initialized=False),
        Phase.PROGRESSING,
        (Initialize(scale_target_to_zero=False),),
        ("Reinitialize",),
    ),
    Row(
        "progressing: skipAnalysis promotes once the canary is ready",
        running(),
        observe(),
        Phase.PROMOTING,
        (PromoteTemplate(revision=REV_B),),
        ("Promoting",),
        policy=Policy(skip_analysis=True),
    ),
    Row(
        "progressing: no schedule at all -> rollback with a reason",
        running(last_step_at=DUE),
        observe(checks=(passing(),)),
        Phase.FAILED,
        (HOME, DOWN),
        ("Rollback",),
        policy=Policy(),
    ),
    Row(
        "waiting: the run starts",
        running(Phase.WAITING),
        observe(),
        Phase.PROGRESSING,
        (HOME,),
        ("NewRevision",),
    ),
    # -- iterations (blue/green) ---------------------------------------------------------------
    Row(
        "iterations: first tick is judged",
        running(),
        observe(),
        Phase.PROGRESSING,
        policy=Policy(iterations=3),
        fields={"iterations": 0},
    ),
    Row(
        "iterations: passing tick counts, traffic stays on the primary",
        running(iterations=1, last_step_at=DUE),
        observe(checks=(passing(),)),
        Phase.PROGRESSING,
        (),
        ("Advance",),
        {"iterations": 2, "canary_weight": 0},
        policy=Policy(iterations=3),
    ),
    Row(
        "blue/green: the Nth passing tick routes all traffic to the canary and promotes",
        running(iterations=2, last_step_at=DUE),
        observe(checks=(passing(),)),
        Phase.PROMOTING,
        (ALL_TO_CANARY, PromoteTemplate(revision=REV_B)),
        ("Advance", "Promoting"),
        {"iterations": 3, "canary_weight": 100},
        policy=Policy(iterations=3),
    ),
    Row(
        "blue/green: a shut confirm-traffic-increase gate holds the switch to the canary",
        running(iterations=2, last_step_at=DUE),
        observe(checks=(passing(),), increase_blocked="gate closed"),
        Phase.PROGRESSING,
        fields={"iterations": 3, "canary_weight": 0, "last_step_at": T0},
        policy=Policy(iterations=3),
    ),
    Row(
        "blue/green: a failing check counts and keeps all traffic on the primary",
        running(iterations=1, last_step_at=DUE),
        observe(checks=(failing(),)),
        Phase.PROGRESSING,
        (),
        ("CheckFailed",),
        {"iterations": 1, "failed_checks": 1, "canary_weight": 0},
        policy=Policy(iterations=3, threshold=2),
    ),
    Row(
        "blue/green: promote by request switches and promotes before the last iteration",
        running(iterations=1, last_step_at=DUE),
        observe(checks=(passing(),), promote_revision=REV_B),
        Phase.PROMOTING,
        (ALL_TO_CANARY, PromoteTemplate(revision=REV_B)),
        ("Advance", "Promoting"),
        {"canary_weight": 100},
        policy=Policy(iterations=3),
    ),
    Row(
        "a/b: the first tick routes the matching requests to the canary, unjudged",
        running(last_step_at=None),
        observe(),
        Phase.PROGRESSING,
        (ALL_TO_CANARY,),
        ("Advance",),
        {"iterations": 0, "canary_weight": 100, "last_step_at": T0},
        policy=Policy(iterations=2, ab_testing=True),
    ),
    Row(
        "a/b: a judged tick counts an iteration",
        running(canary_weight=100, last_step_at=DUE),
        observe(checks=(passing(),)),
        Phase.PROGRESSING,
        (),
        ("Advance",),
        {"iterations": 1, "canary_weight": 100},
        policy=Policy(iterations=2, ab_testing=True),
    ),
    Row(
        "a/b: the last iteration promotes with the matching requests still on the canary",
        running(canary_weight=100, iterations=1, last_step_at=DUE),
        observe(checks=(passing(),)),
        Phase.PROMOTING,
        (PromoteTemplate(revision=REV_B),),
        ("Promoting",),
        {"iterations": 2, "canary_weight": 100},
        policy=Policy(iterations=2, ab_testing=True),
    ),
    Row(
        "a/b: a failing check at the threshold rolls back all traffic to the primary",
        running(canary_weight=100, iterations=1, last_step_at=DUE),
        observe(checks=(failing(),)),
        Phase.FAILED,
        (HOME, DOWN),
        ("Rollback",),
        {"canary_weight": 0},
        policy=Policy(iterations=2, ab_testing=True),
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_transition(row: Row) -> None:
    check(row)


def test_row_ids_are_unique() -> None:
    assert len({row.id for row in ROWS}) == len(ROWS)


def test_rollback_names_the_check_and_its_value() -> None:
    state = running(canary_weight=30, failed_checks=1, last_step_at=ago(60))
    seen = observe(checks=(passing("latency"), failing("request-success-rate", 87.5)))

    decision = decide(STEPS, state, seen)

    (event,) = [a for a in decision.actions if isinstance(a, RecordEvent)]
    assert event.warning
    assert (
        event.message
        == decision.state.message
        == (
            f"Rolling back revision {REV_B}: failed checks threshold 2 reached; "
            "request-success-rate = 87.5 (accepted min 99): below minimum"
        )
    )


def test_deadline_message_names_the_workload_and_how_long() -> None:
    state = running(canary_weight=10, phase_since=ago(900), last_step_at=ago(650))

    decision = decide(STEPS, state, observe(canary=NOT_READY))

    assert decision.state.message == (
        f"Rolling back revision {REV_B}: the canary is not ready and nothing has progressed "
        "for 650s, beyond the progress deadline of 600s: 1 of 2 updated replicas available"
    )


def test_a_ready_canary_replaces_the_waiting_message() -> None:
    waiting = running(canary_weight=10, last_step_at=ago(10))
    held = decide(STEPS, waiting, observe(canary=NOT_READY)).state
    assert held.message.startswith("Waiting for the canary to be ready")

    ready = decide(STEPS, held, observe(route_weights=(90, 10))).state

    assert ready.message == "The canary is ready at weight 10; waiting for the next tick"
    assert decide(STEPS, ready, observe(route_weights=(90, 10))).state == ready
