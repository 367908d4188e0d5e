"""The release series carry Flagger's names, labels and encodings, and forget deleted Canaries.

The gauges are read from a private registry holding only the `ReleaseCollector`; the histograms
and counters from prometheus_client's default registry, each test in its own namespace.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from canary.api.canary import Canary
from canary.core.model import (
    Action,
    CanaryState,
    CheckResult,
    Phase,
    Policy,
    RecordEvent,
    SetWeights,
    Verdict,
)
from canary.telemetry.releases import (
    ReleaseBook,
    ReleaseCollector,
    deployment_strategy,
    flagger_status,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = Policy(interval=10.0, step_weights=(10, 30, 50), threshold=2)


def _canary(namespace: str, name: str = "web", *, target: str = "podinfo") -> Canary:
    metrics: list[dict[str, Any]] = [
        {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
        {
            "name": "errors",
            "query": "sum(rate(errors[1m]))",
            "thresholdRange": {"max": 1},
        },
    ]
    return Canary.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                "service": {"port": 9898},
                "analysis": {"interval": "10s", "stepWeights": [10, 30, 50], "metrics": metrics},
            },
        }
    )


def _namespace() -> str:
    return f"ns-{uuid.uuid4().hex[:8]}"


def _checks(success: float | None, duration: float | None) -> tuple[CheckResult, ...]:
    return (
        CheckResult("request-success-rate", Verdict.PASS, success, "ok", 99.0, None),
        CheckResult("request-duration", Verdict.PASS, duration, "ok", None, 500.0),
        CheckResult("errors", Verdict.PASS, 0.5, "ok", None, 1.0),
    )


class Fleet:
    """A book, the collector over it, the live map of Canaries, and a registry to read."""

    def __init__(self) -> None:
        self.book = ReleaseBook()
        self.phases: dict[tuple[str, str], str] = {}
        self.registry = CollectorRegistry()
        self.registry.register(ReleaseCollector(self.book, phases=lambda: self.phases))

    def record(
        self,
        canary: Canary,
        *,
        before: CanaryState,
        after: CanaryState,
        actions: tuple[Action, ...] = (),
        route_weights: tuple[int, int] | None = (100, 0),
        took: float = 0.2,
        policy: Policy = POLICY,
    ) -> None:
        self.phases[(canary.metadata.namespace, canary.metadata.name)] = after.phase.value
        self.book.record_cycle(
            canary,
            policy=policy,
            before=before,
            after=after,
            actions=actions,
            route_weights=route_weights,
            started=NOW,
            finished=NOW + timedelta(seconds=took),
        )

    def value(self, series: str, /, **labels: str) -> float | None:
        return self.registry.get_sample_value(series, labels)


def _default(series: str, /, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(series, labels)


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (Phase.PROGRESSING, 0),
        (Phase.FAILED, 2),
        (Phase.SUCCEEDED, 1),
        (Phase.INITIALIZED, 1),
        (Phase.WAITING, 1),
        (Phase.WAITING_PROMOTION, 1),
        (Phase.PROMOTING, 1),
        (Phase.FINALISING, 1),
        (Phase.INITIALIZING, 1),
    ],
)
def test_the_status_gauge_uses_flaggers_encoding(phase: Phase, expected: int) -> None:
    assert flagger_status(phase.value) == expected


def test_deployment_strategy_labels_are_flaggers() -> None:
    assert deployment_strategy(Policy(step_weight=10)) == "canary"
    assert deployment_strategy(Policy(iterations=5)) == "blue-green"
    assert deployment_strategy(Policy(iterations=5, ab_testing=True)) == "ab-testing"


def test_a_step_exports_status_weights_and_check_values_under_the_targets_name() -> None:
    fleet = Fleet()
    namespace = _namespace()
    before = CanaryState(phase=Phase.PROGRESSING, canary_weight=10, last_step_at=NOW)
    after = CanaryState(
        phase=Phase.PROGRESSING,
        canary_weight=30,
        last_step_at=NOW,
        checks=_checks(99.5, 120.0),
    )
    fleet.record(
        _canary(namespace, name="web"),
        before=before,
        after=after,
        actions=(SetWeights(70, 30), RecordEvent("Advance", "weight 30")),
        route_weights=(90, 10),
    )

    # Flagger's `name` is spec.targetRef.name, not the Canary's name.
    assert fleet.value("flagger_canary_status", name="podinfo", namespace=namespace) == 0
    assert fleet.value("flagger_canary_status", name="web", namespace=namespace) is None
    weight = "flagger_canary_weight"
    assert fleet.value(weight, workload="podinfo-primary", namespace=namespace) == 70
    assert fleet.value(weight, workload="podinfo", namespace=namespace) == 30
    analysis = "flagger_canary_metric_analysis"
    labels = {"name": "podinfo", "namespace": namespace}
    assert fleet.value(analysis, metric="request-success-rate", **labels) == 99.5
    # The builtin request-duration is milliseconds in the status, seconds here (as in Flagger).
    assert fleet.value(analysis, metric="request-duration", **labels) == pytest.approx(0.12)
    assert fleet.value(analysis, metric="errors", **labels) == 0.5
    assert fleet.value("flagger_canary_total", namespace=namespace) == 1
    assert fleet.value("canary_canaries", namespace=namespace, phase="Progressing") == 1
    assert fleet.value("canary_canaries", namespace=namespace, phase="Succeeded") == 0


def test_without_a_weight_change_the_weights_are_those_read_from_the_route() -> None:
    fleet = Fleet()
    namespace = _namespace()
    state = CanaryState(phase=Phase.SUCCEEDED)
    fleet.record(_canary(namespace), before=state, after=state, route_weights=(100, 0))
    weight = "flagger_canary_weight"
    assert fleet.value(weight, workload="podinfo-primary", namespace=namespace) == 100
    assert fleet.value(weight, workload="podinfo", namespace=namespace) == 0
    assert fleet.value("flagger_canary_status", name="podinfo", namespace=namespace) == 1


def test_a_check_without_a_value_exports_none_rather_than_a_stale_one() -> None:
    fleet = Fleet()
    namespace = _namespace()
    canary = _canary(namespace)
    before = CanaryState(phase=Phase.PROGRESSING, canary_weight=10, last_step_at=NOW)
    fleet.record(canary, before=before, after=replace_checks(before, _checks(99.5, 100.0)))
    fleet.record(canary, before=before, after=replace_checks(before, _checks(None, 100.0)))
    labels = {"name": "podinfo", "namespace": namespace}
    analysis = "flagger_canary_metric_analysis"
    assert fleet.value(analysis, metric="request-success-rate", **labels) is None
    assert fleet.value(analysis, metric="request-duration", **labels) == pytest.approx(0.1)


def replace_checks(state: CanaryState, checks: tuple[CheckResult, ...]) -> CanaryState:
    return CanaryState(
        phase=state.phase,
        canary_weight=state.canary_weight,
        last_step_at=state.last_step_at,
        checks=checks,
    )


def test_a_tick_observes_its_lateness_and_flaggers_analysis_duration() -> None:
    fleet = Fleet()
    namespace = _namespace()
    lateness_count = _default("canary_analysis_tick_lateness_seconds_count") or 0.0
    lateness_sum = _default("canary_analysis_tick_lateness_seconds_sum") or 0.0
    # The last step was 10.5 s ago with an interval of 10 s: this tick runs 0.5 s late.
    before = CanaryState(
        phase=Phase.PROGRESSING, canary_weight=10, last_step_at=NOW - timedelta(seconds=10.5)
    )
    after = CanaryState(phase=Phase.PROGRESSING, canary_weight=30, last_step_at=NOW)
    fleet.record(_canary(namespace), before=before, after=after, took=0.3)

    assert _default("canary_analysis_tick_lateness_seconds_count") == lateness_count + 1
    assert _default("canary_analysis_tick_lateness_seconds_sum") == pytest.approx(
        lateness_sum + 0.5
    )
    labels = {"name": "podinfo", "namespace": namespace}
    assert _default("flagger_canary_duration_seconds_count", **labels) == 1
    assert _default("flagger_canary_duration_seconds_sum", **labels) == pytest.approx(0.3)


def test_a_cycle_between_ticks_observes_no_tick() -> None:
    fleet = Fleet()
    namespace = _namespace()
    lateness_count = _default("canary_analysis_tick_lateness_seconds_count") or 0.0
    # Not yet due (4 s of 10): the cycle was woken by a watch event, and changes nothing.
    state = CanaryState(
        phase=Phase.PROGRESSING, canary_weight=10, last_step_at=NOW - timedelta(seconds=4)
    )
    fleet.record(_canary(namespace), before=state, after=state)
    assert _default("canary_analysis_tick_lateness_seconds_count") == lateness_count
    labels = {"name": "podinfo", "namespace": namespace}
    assert _default("flagger_canary_duration_seconds_count", **labels) is None


def test_the_first_tick_of_a_run_has_no_schedule_to_be_late_against() -> None:
    fleet = Fleet()
    namespace = _namespace()
    lateness_count = _default("canary_analysis_tick_lateness_seconds_count") or 0.0
    before = CanaryState(phase=Phase.PROGRESSING, canary_weight=0, last_step_at=None)
    after = CanaryState(phase=Phase.PROGRESSING, canary_weight=10, last_step_at=NOW)
    fleet.record(_canary(namespace), before=before, after=after)
    assert _default("canary_analysis_tick_lateness_seconds_count") == lateness_count
    labels = {"name": "podinfo", "namespace": namespace}
    assert _default("flagger_canary_duration_seconds_count", **labels) == 1


def test_successes_and_failures_count_runs_once_each() -> None:
    fleet = Fleet()
    namespace = _namespace()
    canary = _canary(namespace)
    finalising = CanaryState(phase=Phase.FINALISING)
    succeeded = CanaryState(phase=Phase.SUCCEEDED)
    fleet.record(canary, before=finalising, after=succeeded)
    fleet.record(canary, before=succeeded, after=succeeded)  # a later idle cycle
    progressing = CanaryState(phase=Phase.PROGRESSING, canary_weight=10, last_step_at=NOW)
    fleet.record(canary, before=progressing, after=CanaryState(phase=Phase.FAILED))
    labels = {
        "name": "podinfo",
        "namespace": namespace,
        "deployment_strategy": "canary",
        "analysis_status": "completed",
    }
    assert _default("flagger_canary_successes_total", **labels) == 1
    assert _default("flagger_canary_failures_total", **labels) == 1
    assert fleet.value("flagger_canary_status", name="podinfo", namespace=namespace) == 2


def test_a_deleted_canary_leaves_no_series_behind() -> None:
    fleet = Fleet()
    namespace = _namespace()
    gone, kept = _canary(namespace, "gone", target="old"), _canary(namespace, "kept", target="new")
    tick_before = CanaryState(
        phase=Phase.PROGRESSING, canary_weight=10, last_step_at=NOW - timedelta(seconds=10)
    )
    tick_after = CanaryState(
        phase=Phase.PROGRESSING, canary_weight=30, last_step_at=NOW, checks=_checks(99.9, 80.0)
    )
    for canary in (gone, kept):
        fleet.record(canary, before=tick_before, after=tick_after)
    del fleet.phases[(namespace, "gone")]  # the watch saw it deleted

    assert fleet.value("flagger_canary_status", name="old", namespace=namespace) is None
    assert fleet.value("flagger_canary_weight", workload="old", namespace=namespace) is None
    assert (
        fleet.value(
            "flagger_canary_metric_analysis",
            name="old",
            namespace=namespace,
            metric="request-success-rate",
        )
        is None
    )
    assert fleet.value("flagger_canary_total", namespace=namespace) == 1
    assert fleet.value("flagger_canary_status", name="new", namespace=namespace) == 0
    # Collecting pruned the book, and with it the deleted Canary's histogram.
    assert fleet.book.get((namespace, "gone")) is None
    old = {"name": "old", "namespace": namespace}
    assert _default("flagger_canary_duration_seconds_count", **old) is None
    new = {"name": "new", "namespace": namespace}
    assert _default("flagger_canary_duration_seconds_count", **new) == 1


def test_two_canaries_of_one_target_export_each_series_once() -> None:
    fleet = Fleet()
    namespace = _namespace()
    state = CanaryState(phase=Phase.SUCCEEDED)
    for name in ("a", "b"):
        fleet.record(_canary(namespace, name), before=state, after=state)
    text = "\n".join(
        f"{sample.name}{sorted(sample.labels.items())}"
        for family in fleet.registry.collect()
        for sample in family.samples
    )
    assert text.count("flagger_canary_status") == 1, text
    assert fleet.value("flagger_canary_total", namespace=namespace) == 2


def test_a_canary_known_but_never_recorded_is_counted_without_per_canary_series() -> None:
    fleet = Fleet()
    namespace = _namespace()
    fleet.phases[(namespace, "new")] = "Initializing"
    assert fleet.value("flagger_canary_total", namespace=namespace) == 1
    assert fleet.value("canary_canaries", namespace=namespace, phase="Initializing") == 1
    assert not [
        sample
        for family in fleet.registry.collect()
        if family.name == "flagger_canary_status"
        for sample in family.samples
    ]


def test_a_replica_that_does_not_act_exports_no_release_gauges() -> None:
    fleet = Fleet()
    acting = False
    fleet.registry = CollectorRegistry()
    fleet.registry.register(
        ReleaseCollector(fleet.book, phases=lambda: fleet.phases, exporting=lambda: acting)
    )
    namespace = _namespace()
    state = CanaryState(phase=Phase.SUCCEEDED)
    fleet.record(_canary(namespace), before=state, after=state)
    assert fleet.value("flagger_canary_total", namespace=namespace) is None
    assert fleet.value("flagger_canary_status", name="podinfo", namespace=namespace) is None
    acting = True
    assert fleet.value("flagger_canary_total", namespace=namespace) == 1
