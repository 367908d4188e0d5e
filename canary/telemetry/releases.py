"""The release series: what each Canary is doing, under Flagger's metric names and labels.

Flagger's users alert on and draw dashboards from `flagger_canary_*` (Flagger's
`pkg/metrics/recorder.go`). These keep its names, label names and encodings, so those keep working
after the move, including Flagger's choice of label: `name` is the Canary's
`spec.targetRef.name`, not the Canary's own name, and `flagger_canary_weight`'s `workload` is
`<target>-primary` or `<target>`. The series Flagger lacks are ours and `canary_`-prefixed:
`canary_canaries` (Canaries by phase) and `canary_analysis_tick_lateness_seconds`.

How: the reconcile cycle hands what it decided to a `ReleaseBook` (`record_cycle`), which keeps
the last state of each Canary and observes the histograms and counters. The gauges are made at
scrape time by a `ReleaseCollector` from that book and from the controller's map of known Canaries
and their phases, so a deleted Canary's series disappear (Flagger's stay until it restarts) and
two Canaries of one target never export one series twice.

This module only records: no I/O, no clock reading, no effect on any decision.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, assert_never

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from canary.api.canary import Canary
from canary.core.model import Action, CanaryState, CheckResult, Phase, Policy, SetWeights
from canary.core.schedule import ANALYSING_PHASES, PACED_PHASES, Strategy, strategy, tick_due

__all__ = [
    "ANALYSIS_DURATION",
    "FAILURES",
    "INFO",
    "SUCCESSES",
    "TICK_LATENESS",
    "CanaryRecord",
    "ReleaseBook",
    "ReleaseCollector",
    "deployment_strategy",
    "flagger_status",
    "set_info",
]

Key = tuple[str, str]  # (namespace, Canary name)

REQUEST_DURATION: Final = "request-duration"  # the builtin p99 latency check, in milliseconds

# flagger_canary_status, as Flagger encodes it: 0 "running" is Progressing only, 2 is Failed, and
# every other phase (Initialized, Waiting, Promoting, Succeeded...) is 1.
STATUS_RUNNING: Final = 0
STATUS_SUCCESSFUL: Final = 1
STATUS_FAILED: Final = 2

INFO: Final = Gauge(
    "flagger_info",
    "Controller version and default traffic provider (Flagger: mesh provider); always 1.",
    ["version", "mesh_provider"],
)
ANALYSIS_DURATION: Final = Histogram(
    "flagger_canary_duration_seconds",
    "Seconds spent performing canary analysis: the wall time of each reconcile cycle that ran "
    "an analysis tick (Progressing or WaitingPromotion).",
    ["name", "namespace"],
)
SUCCESSES: Final = Counter(
    "flagger_canary_successes_total",
    "Total number of canary successes (runs that reached Succeeded).",
    ["name", "namespace", "deployment_strategy", "analysis_status"],
)
FAILURES: Final = Counter(
    "flagger_canary_failures_total",
    "Total number of canary failures (runs that reached Failed).",
    ["name", "namespace", "deployment_strategy", "analysis_status"],
)
TICK_LATENESS: Final = Histogram(
    "canary_analysis_tick_lateness_seconds",
    "How late each paced tick (analysis or gradual promotion step) ran against its schedule: "
    "now - (status.lastStepTime + interval).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)

_STRATEGIES: Final = ("canary", "blue-green", "ab-testing")
_ANALYSIS_STATUSES: Final = ("completed", "skipped")


def set_info(*, version: str, provider: str) -> None:
    """`flagger_info{version, mesh_provider} 1`, once at start."""
    INFO.labels(version=version, mesh_provider=provider).set(1)


def flagger_status(phase: str) -> int:
    """`flagger_canary_status` of a phase: 0 Progressing, 2 Failed, 1 anything else."""
    if phase == Phase.PROGRESSING:
        return STATUS_RUNNING
    if phase == Phase.FAILED:
        return STATUS_FAILED
    return STATUS_SUCCESSFUL


def deployment_strategy(policy: Policy) -> str:
    """Flagger's `deployment_strategy` label: `ab-testing`, `blue-green` or `canary`."""
    match strategy(policy):
        case Strategy.AB:
            return "ab-testing"
        case Strategy.ITERATIONS:
            return "blue-green"
        case Strategy.CANARY | Strategy.NONE:
            return "canary"
        case unknown:
            assert_never(unknown)


@dataclass(frozen=True)
class CanaryRecord:
    """What the last cycle of one Canary left behind, for the gauges."""

    target: str  # spec.targetRef.name: Flagger's `name` label
    weights: tuple[int, int] | None  # (primary, canary) of the route; None when unknown
    checks: Mapping[str, float] = field(default_factory=dict)  # check name -> its last value


def _weights(actions: Sequence[Action], observed: tuple[int, int] | None) -> tuple[int, int] | None:
    """The route's weights after the cycle: the last ones it set, else those it read."""
    for action in reversed(actions):
        if isinstance(action, SetWeights):
            return (action.primary, action.canary)
    return observed


def _builtin_durations(canary: Canary) -> frozenset[str]:
    """The checks that are the builtin `request-duration` (no query, no template): milliseconds
    in the status, seconds in `flagger_canary_metric_analysis` (as Flagger records it)."""
    return frozenset(
        metric.name
        for metric in canary.spec.analysis.metrics
        if metric.name == REQUEST_DURATION and metric.query is None and metric.template_ref is None
    )


def _values(checks: Iterable[CheckResult], *, in_seconds: Collection[str]) -> dict[str, float]:
    """The value of every check that has one (a check without a single finite number has none,
    and exports none rather than a stale one); the `in_seconds` ones from milliseconds."""
    return {
        check.name: check.value / 1000 if check.name in in_seconds else check.value
        for check in checks
        if check.value is not None
    }


class ReleaseBook:
    """The last recorded state of every Canary, and the histograms and counters of its runs."""

    def __init__(self) -> None:
        self._records: dict[Key, CanaryRecord] = {}

    def get(self, key: Key) -> CanaryRecord | None:
        return self._records.get(key)

    def items(self) -> list[tuple[Key, CanaryRecord]]:
        return sorted(self._records.items())

    def record_cycle(  # noqa: PLR0913 - keyword-only: everything one cycle decided
        self,
        canary: Canary,
        *,
        policy: Policy,
        before: CanaryState,
        after: CanaryState,
        actions: Sequence[Action],
        route_weights: tuple[int, int] | None,
        started: datetime,
        finished: datetime,
    ) -> None:
        """Record one cycle of `canary` that started at `started` (its `now`) and took effect
        (the status it decided was written) at `finished`: the Canary's gauges, and its tick
        and run outcome."""
        namespace, target = canary.metadata.namespace, canary.spec.target_ref.name
        key = (namespace, canary.metadata.name)
        self._records[key] = CanaryRecord(
            target=target,
            weights=_weights(actions, route_weights),
            checks=_values(after.checks, in_seconds=_builtin_durations(canary)),
        )
        if _ticked(policy, before, after, now=started):
            if before.last_step_at is not None:
                due = before.last_step_at + timedelta(seconds=policy.interval)
                TICK_LATENESS.observe(max(0.0, (started - due).total_seconds()))
            if before.phase in ANALYSING_PHASES:
                elapsed = max(0.0, (finished - started).total_seconds())
                ANALYSIS_DURATION.labels(name=target, namespace=namespace).observe(elapsed)
        if after.phase != before.phase and after.phase in {Phase.SUCCEEDED, Phase.FAILED}:
            outcome = SUCCESSES if after.phase == Phase.SUCCEEDED else FAILURES
            outcome.labels(
                name=target,
                namespace=namespace,
                deployment_strategy=deployment_strategy(policy),
                analysis_status="skipped" if policy.skip_analysis else "completed",
            ).inc()

    def retain(self, live: Iterable[Key]) -> None:
        """Forget every Canary not in `live`, with its labelled histograms and counters (unless
        another live Canary of the same target and namespace still uses them)."""
        keep = set(live)
        gone = [key for key in self._records if key not in keep]
        if not gone:
            return
        dropped = {(key[0], self._records.pop(key).target) for key in gone}
        still_used = {(key[0], record.target) for key, record in self._records.items()}
        for namespace, target in dropped - still_used:
            ANALYSIS_DURATION.remove(target, namespace)
            for outcome in (SUCCESSES, FAILURES):
                for name in _STRATEGIES:
                    for status in _ANALYSIS_STATUSES:
                        outcome.remove(target, namespace, name, status)


def _ticked(policy: Policy, before: CanaryState, after: CanaryState, *, now: datetime) -> bool:
    """Whether this cycle ran a paced tick: one was due, and it moved `lastStepTime`."""
    return (
        before.phase in PACED_PHASES
        and tick_due(policy, before, now)
        and after.last_step_at is not None
        and after.last_step_at != before.last_step_at
    )


# The controller's map of the Canaries it knows: (namespace, name) -> phase.
Phases = Callable[[], Mapping[Key, str]]


class ReleaseCollector:
    """The gauges, made at scrape time from the book and the live map of Canaries.

    - `flagger_canary_total{namespace}`: Canaries known, per namespace;
    - `canary_canaries{namespace, phase}`: the same by phase (every phase, zeros included, in a
      namespace with any Canary, so `== 0` and `> 0` alerts work);
    - `flagger_canary_status{name, namespace}`: `flagger_status` of the phase;
    - `flagger_canary_weight{workload, namespace}`: the route's weights;
    - `flagger_canary_metric_analysis{name, namespace, metric}`: each check's last value.

    The last three need one recorded cycle of the Canary (its target's name and its route).
    Collecting also drops from the book the Canaries that are no longer known.

    Only a replica that acts (the leader, with leader election) exports them, as only Flagger's
    leader runs its controller: every replica watches the same Canaries, so `sum()` over the
    replicas' series would otherwise count each Canary once per replica.
    """

    def __init__(
        self, book: ReleaseBook, *, phases: Phases, exporting: Callable[[], bool] = lambda: True
    ) -> None:
        self.book = book
        self.phases = phases
        self.exporting = exporting

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        live = dict(self.phases())
        self.book.retain(live)
        total, by_phase, status, weight, analysis = self._families()
        if not self.exporting():
            yield from (total, by_phase, status, weight, analysis)
            return
        per_namespace = Tally(namespace for namespace, _ in live)
        phase_counts = Tally((key[0], phase) for key, phase in live.items())
        for namespace in sorted(per_namespace):
            total.add_metric([namespace], per_namespace[namespace])
            for phase in Phase:
                by_phase.add_metric([namespace, phase.value], phase_counts[(namespace, phase)])
        # Keyed by label values: of two Canaries of one target, the later key wins.
        statuses: dict[tuple[str, ...], float] = {}
        weights: dict[tuple[str, ...], float] = {}
        values: dict[tuple[str, ...], float] = {}
        for key, record in self.book.items():
            namespace = key[0]
            statuses[(record.target, namespace)] = flagger_status(live[key])
            if record.weights is not None:
                primary, canary = record.weights
                weights[(f"{record.target}-primary", namespace)] = primary
                weights[(record.target, namespace)] = canary
            for metric, value in record.checks.items():
                values[(record.target, namespace, metric)] = value
        for family, samples in ((status, statuses), (weight, weights), (analysis, values)):
            for labels, value in samples.items():
                family.add_metric(list(labels), value)
        yield from (total, by_phase, status, weight, analysis)

    @staticmethod
    def _families() -> tuple[
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
        GaugeMetricFamily,
    ]:
        return (
            GaugeMetricFamily(
                "flagger_canary_total", "Total number of canary object", labels=["namespace"]
            ),
            GaugeMetricFamily(
                "canary_canaries",
                "Canaries known to the controller, by namespace and phase.",
                labels=["namespace", "phase"],
            ),
            GaugeMetricFamily(
                "flagger_canary_status",
                "Last canary analysis result: 0 Progressing (running), 1 any other phase "
                "(successful), 2 Failed.",
                labels=["name", "namespace"],
            ),
            GaugeMetricFamily(
                "flagger_canary_weight",
                "Current route weight of the primary (<target>-primary) and canary (<target>).",
                labels=["workload", "namespace"],
            ),
            GaugeMetricFamily(
                "flagger_canary_metric_analysis",
                "Last canary analysis result per metric (the builtin request-duration in seconds).",
                labels=["name", "namespace", "metric"],
            ),
        )
