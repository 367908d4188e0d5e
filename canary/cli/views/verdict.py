"""Has the current release of a Canary finished, and how? The rule behind `canary status`.

A status alone cannot say it: right after a pipeline changes the target, the Canary still says
`Succeeded` about the previous revision until the controller notices. So the verdict compares
the status with the target's current revision, computed exactly as the controller computes it
(pod template plus tracked ConfigMaps and Secrets), and with the generation of the spec:

- 0, promoted: Succeeded (or Initialized: nothing to release) and the primary runs the target's
  current revision;
- 1, failed: Failed about the target's current revision (rolled back), or a Canary the
  controller refuses (`Ready=False`, reason InvalidSpec, Unsupported or Conflict), or the Canary
  is being deleted;
- 3, progressing: anything else (a run under way, or not yet noticed by the controller). A
  problem the controller reports while it keeps trying (`Ready=False` with a reason that is not
  a phase: cycles failing again and again, CannotProceed, RouteInvalid) is part of the line.

Exit status 2 (timed out) is the waiting command's, not this rule's. When the target's revision
cannot be computed (no permission to read its Secrets, say) the phase alone decides, and the
verdict says so. Pure: the caller reads the objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from canary.views.summary import CanarySummary, CheckView
from canary.views.text import CROSS, number, truncate, value_range

# Ready=False reasons that only a change of the spec (or of the Canary holding the target)
# can clear (see canary.controller.reconcile).
REFUSED_REASONS = frozenset({"InvalidSpec", "Unsupported", "Conflict"})
PROMOTED_PHASES = frozenset({"Succeeded", "Initialized"})
DELETED_PHASES = frozenset({"Terminating", "Terminated"})
PHASES = frozenset(
    {
        "Initializing",
        "Initialized",
        "Waiting",
        "Progressing",
        "WaitingPromotion",
        "Promoting",
        "Finalising",
        "Succeeded",
        "Failed",
        "Terminating",
        "Terminated",
    }
)
MESSAGE_WIDTH = 300


class Outcome(IntEnum):
    """The exit status of `canary status`."""

    PROMOTED = 0
    FAILED = 1
    TIMED_OUT = 2
    PROGRESSING = 3


@dataclass(frozen=True)
class Target:
    """The target Deployment as the controller would see it: its revision, or why unknown."""

    revision: str | None
    problem: str = ""
    missing: bool = False


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    headline: str
    details: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join((self.headline, *self.details))


def judge(summary: CanarySummary, target: Target) -> Verdict:  # noqa: PLR0911 - rule by rule
    """The verdict on `summary`'s current release, given its target's current revision."""
    name = summary.name
    ready = summary.condition("Ready")
    if summary.deleting or summary.phase in DELETED_PHASES:
        return Verdict(Outcome.FAILED, f"{name}: the Canary is being deleted")
    if (
        ready is not None
        and ready.status == "False"
        and ready.reason in REFUSED_REASONS
        and (ready.observed_generation or summary.generation) >= summary.generation
    ):
        return Verdict(
            Outcome.FAILED, f"{name}: cannot be released ({ready.reason}): {ready.message}"
        )
    notes = () if target.revision is not None or target.missing else (_unknown(target),)
    if summary.observed_generation < summary.generation:
        headline = (
            f"{name}: waiting for the controller to act on generation {summary.generation} "
            f"of the spec (status is about {summary.observed_generation})"
        )
        return Verdict(Outcome.PROGRESSING, headline, notes)
    if target.missing:
        return Verdict(
            Outcome.PROGRESSING, f"{name}: waiting: {target.problem}" + _trouble(summary)
        )
    current = target.revision
    if summary.phase == "Failed" and current in {None, summary.applied_revision}:
        return _failed(summary, notes)
    if summary.phase in PROMOTED_PHASES and current in {None, summary.promoted_revision}:
        return _promoted(summary, notes)
    return Verdict(Outcome.PROGRESSING, progress_line(summary, target), notes)


def progress_line(summary: CanarySummary, target: Target) -> str:
    """Where the release is: phase, weight, failed checks and the controller's message."""
    settled = summary.phase in PROMOTED_PHASES | {"Failed"}
    if settled and target.revision is not None:
        return (
            f"{summary.name}: revision {target.revision} of the target is not picked up yet "
            f"(status: {summary.phase} about revision {summary.applied_revision or '-'})"
            + _trouble(summary)
        )
    trouble = _trouble(summary)
    said = f": {truncate(summary.message, MESSAGE_WIDTH)}" if summary.message else ""
    return (
        f"{summary.name}: {summary.phase or 'not reconciled yet'}, canary weight "
        f"{summary.weight}%, failed checks {summary.failed_checks}/{summary.threshold}"
        + (trouble or said)
    )


def timed_out(last: Verdict | None, *, name: str, waited: str) -> Verdict:
    still = last.headline if last is not None else f"{name}: no status seen"
    details = last.details if last is not None else ()
    return Verdict(Outcome.TIMED_OUT, f"timed out after {waited}; {still}", details)


def check_line(check: CheckView) -> str:
    """`✗ request-success-rate = 70.5 (accepted >= 99): message`."""
    value = "no value" if check.value is None else number(check.value)
    bounds = value_range(check.minimum, check.maximum)
    accepted = "" if bounds == "-" else f" (accepted {bounds})"
    message = f": {truncate(check.message, MESSAGE_WIDTH)}" if check.message else ""
    return f"  {CROSS} {check.name} = {value}{accepted}{message}"


def _failed(summary: CanarySummary, notes: tuple[str, ...]) -> Verdict:
    headline = f"{summary.name}: rolled back: revision {summary.applied_revision or '-'} failed"
    lines = [f"  {truncate(summary.message, MESSAGE_WIDTH)}"] if summary.message else []
    if summary.failing_checks:
        lines.append("failing checks:")
        lines.extend(check_line(check) for check in summary.failing_checks)
    return Verdict(Outcome.FAILED, headline, (*lines, *notes))


def _promoted(summary: CanarySummary, notes: tuple[str, ...]) -> Verdict:
    revision = summary.promoted_revision or "-"
    if summary.phase == "Initialized":
        headline = f"{summary.name}: nothing to release: the primary runs revision {revision}"
    else:
        headline = f"{summary.name}: promoted: the primary runs revision {revision}"
    return Verdict(Outcome.PROMOTED, headline, notes)


def _trouble(summary: CanarySummary) -> str:
    """`; not progressing (Reason): message` when the controller says it cannot move the
    Canary (`Ready=False` or `Stalled=True` with a reason of its own, not a phase), else ""."""
    for kind, abnormal in (("Stalled", "True"), ("Ready", "False")):
        condition = summary.condition(kind)
        if (
            condition is not None
            and condition.status == abnormal
            and condition.reason not in PHASES
        ):
            message = truncate(condition.message, MESSAGE_WIDTH)
            return f"; not progressing ({condition.reason}): {message}"
    return ""


def _unknown(target: Target) -> str:
    return f"note: judged by phase only; the target's revision is unknown ({target.problem})"
