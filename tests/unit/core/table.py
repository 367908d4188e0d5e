"""The shape of a transition table row for `decide`, and how a row is checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canary.core.decide import decide
from canary.core.model import (
    Action,
    CanaryState,
    Observation,
    Phase,
    Policy,
    ScaleCanary,
    SetWeights,
)
from tests.unit.core.world import ago, effects, reasons

STEPS = Policy(interval=60, threshold=2, step_weights=(10, 30, 50), progress_deadline=600)
UP, DOWN = ScaleCanary(up=True), ScaleCanary(up=False)
HOME = SetWeights(primary=100, canary=0)
DUE = ago(60)  # with STEPS, an analysis tick is due at T0 when the last step was then


@dataclass(frozen=True)
class Row:
    """Given `state` and what the shell `seen`, decide reaches `phase` with exactly `actions`
    (events aside), records `events` (by reason), and sets the state's `fields`."""

    id: str
    state: CanaryState
    seen: Observation
    phase: Phase
    actions: tuple[Action, ...] = ()
    events: tuple[str, ...] = ()
    fields: Mapping[str, Any] = field(default_factory=dict)
    policy: Policy = STEPS


def check(row: Row) -> None:
    decision = decide(row.policy, row.state, row.seen)

    assert decision.state.phase is row.phase
    assert effects(decision) == row.actions
    assert reasons(decision) == row.events
    for name, expected in row.fields.items():
        assert getattr(decision.state, name) == expected, name
