"""Builders and a tiny fake world for testing the pure core.

`World` plays the shell and the cluster: it turns its state into an `Observation`, and applies a
`Decision`'s actions the way the real shell would (absolute weights, guarded promotion, scaling).
Tests assert on the resulting state and world, never on call order.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, assert_never

from canary.core.decide import decide
from canary.core.model import (
    Action,
    CanaryState,
    CheckResult,
    Decision,
    Initialize,
    Observation,
    Phase,
    Policy,
    PromoteTemplate,
    RecordEvent,
    ScaleCanary,
    SetWeights,
    Verdict,
    WorkloadReadiness,
)
from canary.core.schedule import checks_due

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
REV_A = "aaaaaaaaaaaaaaaa"  # promoted
REV_B = "bbbbbbbbbbbbbbbb"  # under analysis
REV_C = "cccccccccccccccc"  # a newer one
READY = WorkloadReadiness(exists=True, ready=True)
NOT_READY = WorkloadReadiness(exists=True, ready=False, message="1 of 2 updated replicas available")


def ago(seconds: float) -> datetime:
    return T0 - timedelta(seconds=seconds)


def passing(name: str = "request-success-rate", value: float = 99.9) -> CheckResult:
    return CheckResult(name=name, verdict=Verdict.PASS, value=value, message="", min=99.0)


def failing(name: str = "request-success-rate", value: float | None = 87.5) -> CheckResult:
    message = "no data: no traffic reached the canary" if value is None else "below minimum"
    return CheckResult(name=name, verdict=Verdict.FAIL, value=value, message=message, min=99.0)


def running(phase: Phase = Phase.PROGRESSING, **changes: Any) -> CanaryState:
    """A run of REV_B against a primary on REV_A, begun 5 minutes ago."""
    base = CanaryState(
        phase=phase,
        last_applied_revision=REV_B,
        last_promoted_revision=REV_A,
        phase_since=ago(300),
    )
    return replace(base, **changes)


def steady(phase: Phase = Phase.SUCCEEDED, **changes: Any) -> CanaryState:
    base = CanaryState(
        phase=phase,
        last_applied_revision=REV_A,
        last_promoted_revision=REV_A,
        phase_since=ago(3600),
    )
    return replace(base, **changes)


def observe(**changes: Any) -> Observation:
    """An observation at T0 of a healthy, initialized canary whose target is REV_B."""
    base = Observation(
        now=T0,
        target_revision=REV_B,
        primary=READY,
        canary=READY,
        initialized=True,
        route_weights=None,
        primary_revision=REV_A,
    )
    return replace(base, **changes)


def effects(decision: Decision) -> tuple[Action, ...]:
    """The actions that change the world (events left out)."""
    return tuple(a for a in decision.actions if not isinstance(a, RecordEvent))


def reasons(decision: Decision) -> tuple[str, ...]:
    return tuple(a.reason for a in decision.actions if isinstance(a, RecordEvent))


@dataclass
class World:
    """The cluster as the shell would see it, changed only by executing actions."""

    now: datetime
    target: str
    primary_revision: str
    initialized: bool = True
    route: tuple[int, int] | None = (100, 0)
    canary_up: bool = False
    canary_ready: bool = False
    primary_ready: bool = True

    def observation(self, checks: tuple[CheckResult, ...] | None = None) -> Observation:
        canary = WorkloadReadiness(exists=True, ready=self.canary_ready, parked=not self.canary_up)
        primary = WorkloadReadiness(exists=self.initialized, ready=self.primary_ready)
        return Observation(
            now=self.now,
            target_revision=self.target,
            primary=primary,
            canary=canary,
            initialized=self.initialized,
            route_weights=self.route if self.initialized else None,
            checks=checks,
            primary_revision=self.primary_revision,
        )

    def apply(self, actions: tuple[Action, ...]) -> None:
        for action in actions:
            match action:
                case Initialize():
                    if not self.initialized:
                        self.route = (100, 0)
                    self.initialized = True
                    if action.scale_target_to_zero:
                        self.canary_up = self.canary_ready = False
                case SetWeights():
                    self.route = (action.primary, action.canary)
                case ScaleCanary():
                    self.canary_up = action.up
                    self.canary_ready = self.canary_ready and action.up
                case PromoteTemplate():
                    if action.revision == self.target:  # the shell's guard
                        self.primary_revision = action.revision
                case RecordEvent():
                    pass
                case _:
                    assert_never(action)

    def advance(self, seconds: float) -> None:
        """Time passes: a scaled-up canary finishes its rollout."""
        self.now += timedelta(seconds=seconds)
        self.canary_ready = self.canary_up


def cycle(
    policy: Policy, state: CanaryState, world: World, *, verdict: Verdict = Verdict.PASS
) -> Decision:
    """One reconcile cycle: run the checks if due, decide, execute; and, as the shell does, the
    cycle the decision asks for `again_in` seconds later, the time passing meanwhile (the
    returned decision holds the actions of them all)."""
    actions: tuple[Action, ...] = ()
    while True:
        due = checks_due(policy, state, world.now)
        checks = (CheckResult(name="m", verdict=verdict, value=1.0, message=""),) if due else None
        decision = decide(policy, state, world.observation(checks))
        world.apply(decision.actions)
        actions += decision.actions
        if decision.again_in is None:
            return replace(decision, actions=actions)
        world.advance(decision.again_in)
        state = decision.state
