"""Judging values against ranges, reading one value out of a result, and run_check end to end
with a fake Prometheus that records the queries it was asked."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from canary.core.model import CheckResult, Verdict
from canary.metrics.checks import effective_bounds, evaluate, judge, run_check
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.inputs import CanaryContext, MetricSpec
from canary.metrics.instant import single_value

PODINFO = CanaryContext(name="podinfo", namespace="default", target="podinfo")


@pytest.mark.parametrize(
    ("value", "minimum", "maximum", "verdict", "message"),
    [
        (87.5, 99.0, None, Verdict.FAIL, "m 87.50 < 99 (min)"),
        (99.0, 99.0, None, Verdict.PASS, "m 99.00 >= 99 (min)"),
        (99.5, 99.0, None, Verdict.PASS, "m 99.50 >= 99 (min)"),
        (612.0, None, 500.0, Verdict.FAIL, "m 612.00 > 500 (max)"),
        (500.0, None, 500.0, Verdict.PASS, "m 500.00 <= 500 (max)"),
        (12.345, None, 500.0, Verdict.PASS, "m 12.35 <= 500 (max)"),
        (5.0, 1.0, 10.0, Verdict.PASS, "m 5.00 within [1, 10]"),
        (1.0, 1.0, 10.0, Verdict.PASS, "m 1.00 within [1, 10]"),
        (10.0, 1.0, 10.0, Verdict.PASS, "m 10.00 within [1, 10]"),
        (0.5, 1.0, 10.0, Verdict.FAIL, "m 0.50 < 1 (min)"),
        (10.01, 1.0, 10.0, Verdict.FAIL, "m 10.01 > 10 (max)"),
        (0.25, 0.5, None, Verdict.FAIL, "m 0.25 < 0.5 (min)"),
        (-3.0, None, None, Verdict.PASS, "m -3.00 (no thresholdRange: recorded, not judged)"),
    ],
)
def test_judge(
    value: float, minimum: float | None, maximum: float | None, verdict: Verdict, message: str
) -> None:
    assert judge("m", value, minimum=minimum, maximum=maximum) == (verdict, message)


@pytest.mark.parametrize(
    ("metric", "bounds"),
    [
        (MetricSpec(name="request-success-rate", min=99), (99, None)),
        (MetricSpec(name="request-duration", max=500), (None, 500)),
        (MetricSpec(name="x", min=1, max=2, threshold=5), (1, 2)),
        (MetricSpec(name="request-success-rate", threshold=99), (99, None)),
        (MetricSpec(name="request-duration", threshold=500), (None, 500)),
        (MetricSpec(name="error-rate", threshold=1), (None, 1)),
        (MetricSpec(name="error-rate"), (None, None)),
    ],
)
def test_effective_bounds(metric: MetricSpec, bounds: tuple[float | None, float | None]) -> None:
    assert effective_bounds(metric) == bounds


def _sample(value: str, **labels: str) -> dict[str, Any]:
    return {"metric": labels, "value": [1700000000.0, value]}


@pytest.mark.parametrize(
    ("result", "value"),
    [
        ([_sample("1")], 1.0),
        ([_sample("99.5", job="x")], 99.5),
        ([_sample("-2e3")], -2000.0),
        ([1700000000.0, "3"], 3.0),  # a scalar result
    ],
)
def test_single_value_reads_one_finite_number(result: Any, value: float) -> None:
    assert single_value(result) == value


@pytest.mark.parametrize(
    ("result", "kind", "message"),
    [
        ([], FailureKind.NO_DATA, "no data: the query returned no series"),
        (
            [_sample("NaN")],
            FailureKind.NAN,
            "NaN: the query returned NaN (often 0/0: no requests in the interval)",
        ),
        (
            [1.0, "+Inf"],
            FailureKind.INFINITE,
            "+Inf: the query returned an infinite value (division by 0?)",
        ),
        (
            [_sample("-Inf")],
            FailureKind.INFINITE,
            "-Inf: the query returned an infinite value (division by 0?)",
        ),
        (
            [_sample("1", a="x"), _sample("2", a="y")],
            FailureKind.SEVERAL_SERIES,
            '2 series; the query must aggregate to one: {a="x"}, {a="y"}',
        ),
        (
            [_sample(str(n), pod=f"p{n}") for n in range(5)],
            FailureKind.SEVERAL_SERIES,
            (
                '5 series; the query must aggregate to one: {pod="p0"}, {pod="p1"}, {pod="p2"}'
                " and 2 more"
            ),
        ),
        (
            [{"metric": {}, "value": [1.0, "lots"]}],
            FailureKind.BAD_RESPONSE,
            "bad response: the sample [1.0, 'lots'] holds no number",
        ),
        (
            [{"metric": {}}],
            FailureKind.BAD_RESPONSE,
            "bad response: the sample None holds no number",
        ),
        ({"x": 1}, FailureKind.BAD_RESPONSE, "bad response: data.result is {'x': 1}"),
    ],
)
def test_single_value_says_why_there_is_no_number(
    result: Any, kind: FailureKind, message: str
) -> None:
    with pytest.raises(MetricError) as caught:
        single_value(result)
    assert (caught.value.kind, str(caught.value)) == (kind, message)


@dataclass
class FakePrometheus:
    """Answers every query with one value or one error, and remembers what it was asked."""

    answer: float | BaseException
    queries: list[str] = field(default_factory=list)

    async def query(self, promql: str) -> float:
        self.queries.append(promql)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


async def test_a_value_in_range_passes() -> None:
    fake = FakePrometheus(99.9)
    result = await run_check(
        MetricSpec(name="request-success-rate", min=99), context=PODINFO, client=fake
    )
    assert result == CheckResult(
        "request-success-rate", Verdict.PASS, 99.9, "request-success-rate 99.90 >= 99 (min)", 99
    )
    expected = (
        'sum( rate( response_total{ namespace="default", deployment=~"podinfo",'
        ' classification!="failure", direction="inbound" }[1m] ) ) / sum( rate( response_total{'
        ' namespace="default", deployment=~"podinfo", direction="inbound" }[1m] ) ) * 100'
    )
    assert fake.queries == [expected]


async def test_a_value_out_of_range_fails_with_the_value() -> None:
    fake = FakePrometheus(87.5)
    result = await run_check(
        MetricSpec(name="request-success-rate", min=99), context=PODINFO, client=fake
    )
    assert result == CheckResult(
        "request-success-rate", Verdict.FAIL, 87.5, "request-success-rate 87.50 < 99 (min)", 99
    )


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        (FailureKind.NO_DATA, "no data: the query returned no series"),
        (FailureKind.NAN, "NaN: the query returned NaN (often 0/0: no requests in the interval)"),
    ],
)
async def test_a_builtin_without_data_blames_missing_traffic(kind: FailureKind, text: str) -> None:
    fake = FakePrometheus(MetricError(kind, text))
    outcome = await evaluate(
        MetricSpec(name="request-duration", max=500), context=PODINFO, client=fake
    )
    assert outcome.failure is kind
    assert outcome.result == CheckResult(
        "request-duration",
        Verdict.FAIL,
        None,
        f"request-duration: {text}; probably no traffic reached podinfo in namespace default",
        None,
        500,
    )


async def test_a_template_without_data_does_not_guess_the_cause() -> None:
    fake = FakePrometheus(MetricError(FailureKind.NO_DATA, "no data: the query returned no series"))
    metric = MetricSpec(name="errors", template_query="sum(errors)", max=1)
    result = await run_check(metric, context=PODINFO, client=fake)
    assert (result.verdict, result.value, result.message) == (
        Verdict.FAIL,
        None,
        "errors: no data: the query returned no series",
    )


async def test_a_provider_failure_fails_the_check() -> None:
    error = MetricError(FailureKind.UNREACHABLE, "Prometheus unreachable at http://p: x")
    outcome = await evaluate(
        MetricSpec(name="request-duration"), context=PODINFO, client=FakePrometheus(error)
    )
    assert outcome.failure is FailureKind.UNREACHABLE
    assert not outcome.failure.is_configuration
    assert outcome.result.verdict is Verdict.FAIL
    assert outcome.result.message == "request-duration: Prometheus unreachable at http://p: x"


async def test_a_template_error_fails_without_asking_prometheus() -> None:
    fake = FakePrometheus(1.0)
    metric = MetricSpec(
        name="latency",
        template_query='x{a="{{ variables.a }}"}',
        template_variables={"a": '"} or vector(1)'},
        max=1,
    )
    outcome = await evaluate(metric, context=PODINFO, client=fake)
    assert fake.queries == []
    assert outcome.failure is FailureKind.TEMPLATE_ERROR
    assert outcome.failure.is_configuration
    assert outcome.result.verdict is Verdict.FAIL
    assert outcome.result.message == (
        'latency: template: variable "a" has the character \'"\' at position 0, which is not'
        " allowed in a query; allowed are A-Z a-z 0-9 _ . : / -"
    )


async def test_an_unexpected_exception_is_contained() -> None:
    fake = FakePrometheus(RuntimeError("boom"))
    outcome = await evaluate(MetricSpec(name="request-duration"), context=PODINFO, client=fake)
    assert outcome.failure is FailureKind.INTERNAL
    assert outcome.result.verdict is Verdict.FAIL
    assert outcome.result.message == "request-duration: internal error: RuntimeError: boom"


async def test_an_unsupported_provider_fails_the_builtin_check() -> None:
    context = CanaryContext(name="p", namespace="d", target="p", provider="consul")
    fake = FakePrometheus(1.0)
    outcome = await evaluate(
        MetricSpec(name="request-success-rate", min=99), context=context, client=fake
    )
    assert fake.queries == []
    assert outcome.failure is FailureKind.UNSUPPORTED_PROVIDER
    assert outcome.result.message.startswith("request-success-rate: unknown provider 'consul'")
    assert outcome.result.min == 99


def test_nan_is_never_a_passing_value() -> None:
    # A guard on judge's contract: NaN compares false both ways, so it must never reach judge.
    with pytest.raises(MetricError):
        single_value([_sample(str(math.nan))])
