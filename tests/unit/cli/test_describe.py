"""`canary describe`: what it prints, and the metrics it asks Prometheus for."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from canary.cli.views.sections import Described, render, strategy
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.series import Series
from canary.views.golden import (
    Golden,
    Span,
    Unavailable,
    golden_signals,
    grid,
)
from canary.views.timeline import events_about
from canary.views.window import chart_start, rate_window
from canary.views.workloads import Workloads
from tests.unit.cli.objects import NOW, canary, event

WORKLOADS = Workloads(
    namespace="shop", primary="podinfo-primary", canary="podinfo", provider="linkerd"
)
SPAN = Span(start=NOW - timedelta(seconds=60), end=NOW, points=7)
EVENTS = events_about(
    [
        event(
            "NewRevision",
            "New revision a1a1a1a1a1a1a1a1 detected, starting analysis",
            seconds_ago=60,
        ),
        event("Advance", "Advanced canary weight to 10", seconds_ago=40),
        event(
            "CheckFailed",
            "Check failed (1/2): request-duration = no value",
            seconds_ago=20,
            warning=True,
        ),
        event("Advance", "Advanced canary weight to 30", seconds_ago=10),
    ],
    name="podinfo",
)


@dataclass
class FakePrometheus:
    """Answers by the deployment a query is about; refuses everything when `down`."""

    down: MetricError | None = None
    asked: list[str] = field(default_factory=list)

    async def query(self, promql: str) -> float:
        self.asked.append(promql)
        if self.down is not None:
            raise self.down
        if promql == "vector(1)":
            return 1.0
        primary = 'deployment=~"podinfo-primary"' in promql
        if "histogram_quantile" in promql:
            return 20.0 if primary else 35.0
        if "classification" in promql:
            if not primary:
                raise MetricError(FailureKind.NAN, "NaN: the query returned NaN")
            return 100.0
        return 9.5 if primary else 1.25

    async def query_range(  # the protocol's signature, `end` included
        self,
        promql: str,
        *,
        start: datetime,
        end: datetime,  # noqa: ARG002 - the grid's length comes from the span's points
        step: int,
    ) -> tuple[Series, ...]:
        first = int(start.timestamp())
        if 'deployment=~"podinfo-primary"' in promql:
            return (Series(points=tuple((float(first + i * step), 100.0) for i in range(7))),)
        return (Series(points=((float(first + 3 * step), 90.0), (float(first + 4 * step), None))),)


async def _golden(client: FakePrometheus) -> Golden | Unavailable:
    return await golden_signals(client, WORKLOADS, window="30s", span=SPAN)


async def test_the_signals_of_both_deployments_come_from_the_builtin_queries() -> None:
    client = FakePrometheus()
    golden = await _golden(client)
    assert isinstance(golden, Golden)
    assert (golden.primary.request_rate.value, golden.canary.request_rate.value) == (9.5, 1.25)
    assert (golden.primary.latency_p99.value, golden.canary.latency_p99.value) == (20.0, 35.0)
    assert golden.canary.success_rate.value is None
    assert golden.canary.success_rate.problem == "NaN: the query returned NaN"
    assert all("[30s]" in q for q in client.asked if q != "vector(1)")
    assert golden.success_over_time.primary == (100.0,) * 7
    assert golden.success_over_time.canary == (None, None, None, 90.0, None, None, None)


async def test_an_unreachable_prometheus_is_reported_once_with_its_reason() -> None:
    down = MetricError(FailureKind.UNREACHABLE, "Prometheus unreachable at http://p:9090: refused")
    client = FakePrometheus(down=down)
    assert await _golden(client) == Unavailable("Prometheus unreachable at http://p:9090: refused")
    assert client.asked == ["vector(1)"], "no query after the first one failed"


async def test_a_provider_without_builtin_metrics_is_unavailable() -> None:
    other = Workloads(namespace="shop", primary="a-primary", canary="a", provider="consul")
    result = await golden_signals(FakePrometheus(), other, window="30s", span=SPAN)
    assert isinstance(result, Unavailable)
    assert "unknown provider 'consul'" in result.reason


class SecondsPrometheus(FakePrometheus):
    """The application's histogram: p99 in seconds."""

    async def query(self, promql: str) -> float:
        self.asked.append(promql)
        return 0.035 if "histogram_quantile" in promql else 1.0


async def test_the_application_histogram_of_blue_green_is_shown_in_milliseconds() -> None:
    blue_green = Workloads(namespace="shop", primary="a-primary", canary="a", provider="kubernetes")
    client = SecondsPrometheus()
    golden = await golden_signals(client, blue_green, window="30s", span=SPAN)
    assert isinstance(golden, Golden)
    assert golden.canary.latency_p99.value == 35.0
    assert any('kubernetes_pod_name=~"a-primary-[0-9a-zA-Z]+' in q for q in client.asked)


def test_the_chart_grid_has_whole_seconds_and_at_most_the_points_asked() -> None:
    times, step = grid(NOW - timedelta(seconds=119), NOW, points=60)
    assert step == 3
    assert len(times) <= 60
    assert times[0] == NOW - timedelta(seconds=119)


async def test_describe_prints_state_checks_timeline_and_metrics_side_by_side() -> None:
    golden = await _golden(FakePrometheus())
    text = render(
        Described(
            canary=canary(), events=EVENTS, metrics=golden, prometheus_url="http://p:9090", now=NOW
        )
    )
    for expected in (
        "Name:          podinfo",
        "Strategy:      canary: weights 10, 30, 50 every 10s; rollback after 2 failed checks",
        "Phase:         Progressing since 11:58:25 (95s)",
        "Traffic:       primary 70%, canary 30%",
        "Failed checks: 1/2",
        "request-success-rate   99.5       >= 99      ✓",
        "request-duration       no value   <= 500     ✗",
        "latest release of revision a1a1a1a1a1a1a1a1, from 11:59:00: Progressing",
        "11:59:40   Warning   CheckFailed   Check failed (1/2): request-duration = no value",
        "Metrics (Prometheus http://p:9090), rates over 30s:",
        "PRIMARY (podinfo-primary)   CANARY (podinfo)",
        "request rate   9.5/s                       1.25/s",
        "success rate   100%                        -",
        "p99 latency    20 ms                       35 ms",
        "canary success rate: NaN: the query returned NaN",
        "success rate, primary   ███████",
    ):
        assert expected in text, f"{expected!r} not in:\n{text}"
    weights = next(line for line in text.splitlines() if line.strip().startswith("canary weight"))
    assert weights.split()[2] == "▁▁▂▂▂▃▃", "0, then 10 from 40 s ago, then 30 from 10 s ago"


def test_describe_without_prometheus_still_prints_everything_else() -> None:
    text = render(
        Described(
            canary=canary(),
            events=EVENTS,
            metrics=Unavailable("Prometheus unreachable at http://p:9090: connection refused"),
            prometheus_url="http://p:9090",
            now=NOW,
        )
    )
    assert "Checks (latest):" in text
    assert "Timeline" in text
    assert text.rstrip().endswith(
        "Metrics (Prometheus http://p:9090): unavailable: Prometheus unreachable at "
        "http://p:9090: connection refused"
    )


def test_webhooks_show_their_last_call_from_the_checks() -> None:
    obj = canary()
    obj["spec"]["analysis"]["webhooks"] = [
        {"name": "load-test", "type": "rollout", "url": "http://loadtester/"},
        {"name": "gate", "type": "confirm-promotion", "url": "http://loadtester/gate"},
    ]
    obj["status"]["checks"].append(
        {
            "name": "rollout webhook load-test",
            "value": None,
            "verdict": "Pass",
            "time": "2026-01-02T11:59:55Z",
        }
    )
    text = render(
        Described(canary=obj, events=[], metrics=Unavailable("x"), prometheus_url="", now=NOW)
    )
    assert "load-test   rollout             http://loadtester/       11:59:55 ✓" in text
    assert "gate        confirm-promotion   http://loadtester/gate   -" in text
    assert "rollout webhook" not in text.split("Webhooks:")[0], "not listed as a metric check"
    assert "no events" in text


def test_strategies_read_in_one_line() -> None:
    assert strategy({"interval": "1m", "stepWeight": 10, "maxWeight": 50}) == (
        "canary: +10% up to 50% every 1m; rollback after 1 failed checks"
    )
    assert strategy({"interval": "1m", "iterations": 5, "threshold": 2}).startswith(
        "blue/green: 5 iterations every 1m"
    )
    assert strategy({"interval": "1m", "iterations": 5, "match": [{}]}).startswith("A/B testing")


def test_the_rate_window_is_the_success_rate_checks_interval() -> None:
    assert rate_window(canary()["spec"]) == "30s"
    assert rate_window({"analysis": {"metrics": []}}) == "1m"


def test_charts_start_a_little_before_the_latest_release_within_bounds() -> None:
    assert chart_start(EVENTS, now=NOW) == NOW - timedelta(seconds=90)
    assert chart_start([], now=NOW) == NOW - timedelta(minutes=10)
    recent = events_about(
        [event("NewRevision", "New revision a1a1a1 x", seconds_ago=5)], name="podinfo"
    )
    assert chart_start(recent, now=NOW) == NOW - timedelta(minutes=1)
