"""A Canary object (as read from the API server) turned into the plain values the views show.

The views read raw objects rather than the API models on purpose: a view must still show a
Canary whose spec the models refuse (that is when a user most needs to look at it), so every
field is read defensively and a missing or odd one becomes a neutral default. It must not do I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canary.views.text import CROSS, NO_VALUE, TICK, number

NO_CRD = "the Canary CRD is not installed in this cluster (see `canary crds install`)"


@dataclass(frozen=True)
class CheckView:
    """The latest result of one check (a metric, or a webhook judged like one)."""

    name: str
    value: float | None
    passed: bool
    message: str
    minimum: float | None
    maximum: float | None
    time: datetime | None

    @property
    def compact(self) -> str:
        """`name=value✓`, or `name✓` for a check without a value that passed (a webhook)."""
        mark = TICK if self.passed else CROSS
        if self.value is None and self.passed:
            return f"{self.name}{mark}"
        return f"{self.name}={number(self.value) if self.value is not None else '?'}{mark}"


@dataclass(frozen=True)
class ConditionView:
    type: str
    status: str
    reason: str
    message: str
    since: datetime | None
    observed_generation: int | None


@dataclass(frozen=True)
class CanarySummary:
    """What `get` shows of one Canary, and what `status` judges."""

    namespace: str
    name: str
    generation: int
    observed_generation: int
    phase: str
    weight: int
    failed_checks: int
    threshold: int
    checks: tuple[CheckView, ...]
    conditions: tuple[ConditionView, ...]
    last_transition: datetime | None
    phase_since: datetime | None
    applied_revision: str
    promoted_revision: str
    deleting: bool

    def condition(self, kind: str) -> ConditionView | None:
        return next((c for c in self.conditions if c.type == kind), None)

    @property
    def message(self) -> str:
        """What the controller last said about this Canary (its Ready condition's message)."""
        ready = self.condition("Ready")
        return ready.message if ready is not None else ""

    @property
    def compact_checks(self) -> str:
        return ", ".join(check.compact for check in self.checks) or NO_VALUE

    @property
    def failing_checks(self) -> tuple[CheckView, ...]:
        return tuple(check for check in self.checks if not check.passed)


def summary_of(obj: Mapping[str, Any]) -> CanarySummary:
    metadata, spec, status = (
        _map(obj.get("metadata")),
        _map(obj.get("spec")),
        _map(obj.get("status")),
    )
    analysis = _map(spec.get("analysis"))
    return CanarySummary(
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or ""),
        generation=_int(metadata.get("generation")),
        observed_generation=_int(status.get("observedGeneration")),
        phase=str(status.get("phase") or ""),
        weight=_int(status.get("canaryWeight")),
        failed_checks=_int(status.get("failedChecks")),
        threshold=_int(analysis.get("threshold"), default=1),
        checks=tuple(_check(_map(item)) for item in _list(status.get("checks"))),
        conditions=tuple(_condition(_map(item)) for item in _list(status.get("conditions"))),
        last_transition=timestamp(status.get("lastTransitionTime")),
        phase_since=timestamp(status.get("phaseSince")),
        applied_revision=str(status.get("lastAppliedSpec") or ""),
        promoted_revision=str(status.get("lastPromotedSpec") or ""),
        deleting=bool(metadata.get("deletionTimestamp")),
    )


def timestamp(value: Any) -> datetime | None:
    """An RFC 3339 time as the API server writes it, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _check(item: Mapping[str, Any]) -> CheckView:
    return CheckView(
        name=str(item.get("name") or ""),
        value=_float(item.get("value")),
        passed=item.get("verdict") == "Pass",
        message=str(item.get("message") or ""),
        minimum=_float(item.get("min")),
        maximum=_float(item.get("max")),
        time=timestamp(item.get("time")),
    )


def _condition(item: Mapping[str, Any]) -> ConditionView:
    generation = item.get("observedGeneration")
    return ConditionView(
        type=str(item.get("type") or ""),
        status=str(item.get("status") or ""),
        reason=str(item.get("reason") or ""),
        message=str(item.get("message") or ""),
        since=timestamp(item.get("lastTransitionTime")),
        observed_generation=generation if isinstance(generation, int) else None,
    )


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any, *, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
