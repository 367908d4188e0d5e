"""The core's vocabulary: the policy it applies, the state it keeps, what it observes, what it asks.

These frozen dataclasses are the contract between `decide` and the controller's shell. The shell
converts the Canary resource (pydantic, `canary.api`) into a `Policy` and a `CanaryState`, gathers
an `Observation`, calls `decide`, executes the returned actions in order (each one absolute and
idempotent), and writes the returned state in one status patch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# One enum of phases from the resource to the core: Flagger's names and spelling.
from canary.api.status import Phase

__all__ = [
    "Action",
    "CanaryState",
    "CheckResult",
    "Decision",
    "Initialize",
    "Observation",
    "Phase",
    "Policy",
    "PromoteTemplate",
    "RecordEvent",
    "ScaleCanary",
    "SetWeights",
    "Verdict",
    "WorkloadReadiness",
]


@dataclass(frozen=True)
class Policy:
    """What the Canary's spec asks for, with defaults applied and durations in seconds."""

    interval: float = 60.0
    threshold: int = 1
    max_weight: int = 100
    step_weight: int = 0
    step_weights: tuple[int, ...] = ()
    step_weight_promotion: int = 0
    iterations: int = 0
    progress_deadline: float = 600.0
    skip_analysis: bool = False
    suspend: bool = False
    # A/B testing: `iterations` with request matches. The route sends the matching requests to
    # the canary during the run; the rest stays on the primary.
    ab_testing: bool = False
    # Blue/green only: copy the primary's requests to the canary while it is analysed.
    mirror: bool = False


class Verdict(StrEnum):
    PASS = "Pass"  # noqa: S105 - a verdict, not a password
    FAIL = "Fail"


@dataclass(frozen=True)
class CheckResult:
    """One metric check of one tick: a finite value judged against its range, or why not.

    `value` is None when no single finite number could be had; `reason` then says why (no data,
    NaN, several series, query error, provider unreachable) in words a person can act on.
    """

    name: str
    verdict: Verdict
    value: float | None
    message: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class WorkloadReadiness:
    """Whether a Deployment (primary or canary) is rolled out and available.

    `deadline_exceeded` is True when Kubernetes reports ProgressDeadlineExceeded, or when it has
    been unavailable for longer than the Canary's progressDeadlineSeconds (non-retriable).
    `parked` (the canary only): the target is scaled to zero between runs and serves nothing
    until the run scales it up.
    """

    exists: bool
    ready: bool
    message: str = ""
    deadline_exceeded: bool = False
    parked: bool = False


@dataclass(frozen=True)
class CanaryState:
    """The part of `status` the core owns; every field survives a controller restart."""

    phase: Phase = Phase.INITIALIZING
    canary_weight: int = 0
    failed_checks: int = 0
    iterations: int = 0
    last_applied_revision: str = ""  # the target revision the current (or last) run is about
    last_promoted_revision: str = ""  # the revision the primary runs
    phase_since: datetime | None = None  # when the current phase began (progress deadline)
    last_step_at: datetime | None = None  # when weight last moved or a check last ran (pacing)
    message: str = ""  # why the canary is where it is, for people
    checks: tuple[CheckResult, ...] = ()  # the latest result of every metric check
    # Why the phase holds, when it waits for something outside the controller (the primary
    # while initializing): the `Ready` condition's reason (Ready=False), "" otherwise. With
    # `stalled` the wait has outlasted the progress deadline: `Stalled=True` instead of
    # `Reconciling=True`, yet the controller keeps trying.
    hold_reason: str = ""
    stalled: bool = False


@dataclass(frozen=True)
class Observation:
    """What the shell saw this cycle, gathered before `decide` runs."""

    now: datetime
    target_revision: str  # canonical hash of the target's pod template (+ tracked configs)
    primary: WorkloadReadiness
    canary: WorkloadReadiness
    initialized: bool  # primary Deployment, the three Services and the route object exist
    route_weights: tuple[int, int] | None  # (primary, canary) read from the route object
    # The metric checks, run by the shell only when `checks_due(...)` said so; else None.
    checks: tuple[CheckResult, ...] | None = None
    # The revision the primary's pod template was promoted from, as the shell reads it back from
    # the primary (PromoteTemplate records it there, e.g. in a `canary.dev/` annotation that the
    # revision hash ignores); "" when unknown. Promoting completes only once this equals the
    # revision being promoted, so a primary that is "ready" on its old template does not count.
    primary_revision: str = ""
    # Why a new run may not start now (the cluster-wide limit of progressing canaries is
    # reached), or "" when it may. A blocked run waits in phase Waiting; a run already under
    # way is never blocked, and a new revision during a run restarts it regardless.
    start_blocked: str = ""
    # Manual control, read from the Canary's annotations (see canary.controller.manual): a
    # paused Canary is left alone; abort and promote name the revision they are about, so a
    # request never applies to a later revision and needs no clearing.
    paused: bool = False
    abort_revision: str = ""
    promote_revision: str = ""
    # Webhook gates the shell called this cycle (see canary.controller.hooks): why promotion
    # must wait (a confirm-promotion hook did not approve), or "" when it may go ahead; and why
    # a rollback was requested (a rollback hook answered 2xx), or "".
    promotion_blocked: str = ""
    rollback_requested: str = ""
    # Why the weight may not increase this tick (a confirm-traffic-increase hook did not
    # approve), or "". A held tick is no failed check; it asks again one interval later.
    increase_blocked: str = ""
    # `canary retry`: run the failed revision `retry_revision` again, if the failure it was asked
    # about is the current one (the Failed phase that began at `retry_failed_at`), so a request
    # is honoured once and never applies to a later failure.
    retry_revision: str = ""
    retry_failed_at: datetime | None = None
    # Why the API server cannot be trusted to have worked while this cycle's data was gathered
    # (a request failed or hung since this Canary's status was last written), or "". While the
    # controller cannot write, the route cannot change and the checks measure nothing useful:
    # such a tick is held, never counted (see `decide`).
    api_unreachable: str = ""


# Actions: each is absolute ("make it so"), so executing one twice is harmless.


@dataclass(frozen=True)
class Initialize:
    """Create whatever is missing: primary (from the last promoted template, or from the target
    on first sight), Services, route object at 100/0; then scale the target to zero.

    `scale_target_to_zero` is False when the objects are repaired in the middle of a run, where
    the target is the canary under analysis and must keep running.
    """

    scale_target_to_zero: bool = True


@dataclass(frozen=True)
class SetWeights:
    """Route `primary`% and `canary`% of the traffic; with `mirror`, also copy the primary's
    requests to the canary (their responses are discarded)."""

    primary: int
    canary: int
    mirror: bool = False


@dataclass(frozen=True)
class ScaleCanary:
    """Scale the target Deployment up (to its desired replicas) or down to zero."""

    up: bool


@dataclass(frozen=True)
class PromoteTemplate:
    """Copy the target's pod template into the primary, but only if its revision is still
    `revision` (the one that passed analysis); the shell must re-check before writing."""

    revision: str


@dataclass(frozen=True)
class RecordEvent:
    """A Kubernetes event on the Canary (and a structured log line)."""

    reason: str
    message: str
    warning: bool = False


Action = Initialize | SetWeights | ScaleCanary | PromoteTemplate | RecordEvent


@dataclass(frozen=True)
class Decision:
    """The next state and the actions that make it true. With `again_in` the next cycle has
    work of its own after that many seconds (a run just acknowledged scales its canary up
    then), so the shell runs it then rather than at the phase's usual pace."""

    state: CanaryState
    actions: tuple[Action, ...] = field(default=())
    again_in: float | None = None
