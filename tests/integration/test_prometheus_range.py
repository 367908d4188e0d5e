"""Range queries (`PrometheusClient.query_range`, for the CLI's charts) against the sandbox's
real Prometheus: points on the step grid, NaN kept as gaps, errors as for instant queries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from canary.metrics import FailureKind, MetricError, PrometheusClient
from canary.sandbox.state import SandboxState

pytestmark = pytest.mark.integration

END = datetime.now(UTC).replace(microsecond=0)
START = END - timedelta(seconds=60)


@pytest.fixture
async def prometheus(sandbox: SandboxState) -> AsyncIterator[PrometheusClient]:
    async with PrometheusClient(sandbox.prometheus_url, timeout=5) as client:
        yield client


async def test_a_range_query_answers_one_point_per_step(prometheus: PrometheusClient) -> None:
    (series,) = await prometheus.query_range("vector(1)", start=START, end=END, step=10)
    first = START.timestamp()
    assert [time for time, _ in series.points] == [first + 10 * i for i in range(7)]
    assert {value for _, value in series.points} == {1.0}
    assert series.at(first + 30) == 1.0
    assert series.at(first + 31) is None


async def test_nan_is_a_gap_not_an_error(prometheus: PrometheusClient) -> None:
    (series,) = await prometheus.query_range("vector(0)/0", start=START, end=END, step=30)
    assert [value for _, value in series.points] == [None, None, None]


async def test_an_empty_answer_is_no_series(prometheus: PrometheusClient) -> None:
    assert await prometheus.query_range('up{job="nope"}', start=START, end=END, step=30) == ()


async def test_errors_are_metric_errors_as_for_instant_queries(
    prometheus: PrometheusClient,
) -> None:
    with pytest.raises(MetricError) as caught:
        await prometheus.query_range("sum(", start=START, end=END, step=30)
    assert caught.value.kind is FailureKind.QUERY_ERROR
    with pytest.raises(ValueError, match="step of 1 s or more"):
        await prometheus.query_range("vector(1)", start=START, end=END, step=0)


async def test_an_instant_query_still_refuses_a_range_vector(prometheus: PrometheusClient) -> None:
    """Charts accept matrices; checks still never do."""
    with pytest.raises(MetricError) as caught:
        await prometheus.query("vector(1)[1m:10s]")
    assert caught.value.kind is FailureKind.UNSUPPORTED_RESULT


async def test_nothing_listening_is_unreachable() -> None:
    async with PrometheusClient("http://127.0.0.1:9", timeout=2) as client:
        with pytest.raises(MetricError) as caught:
            await client.query_range("vector(1)", start=START, end=END, step=30)
    assert caught.value.kind is FailureKind.UNREACHABLE
