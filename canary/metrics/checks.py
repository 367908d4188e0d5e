"""One metric check of one tick: render the query, ask Prometheus, judge the value.

`run_check` is what the controller calls for every `analysis.metrics[]` entry. It never raises
for a provider or configuration problem: anything that keeps it from one finite number becomes a
failed `CheckResult` whose message says why (fail closed, DESIGN.md §3 point 3). `evaluate` gives
the same result plus the `FailureKind`, for event reasons and for telling terminal configuration
errors from transient ones.

Which query a metric runs (a decision of this project): its MetricTemplate's query when it has a
templateRef, else its inline `query`, else the builtin query of its name for the Canary's mesh.
Flagger runs both the builtin and the template when a builtin name has a templateRef; here the
template replaces the builtin. Bounds are inclusive. With no thresholdRange, Flagger's legacy
`threshold` is a minimum for `request-success-rate` and a maximum for everything else; with
neither, the value is recorded and the check passes.

This module must not import prometheus_api_client or the API models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import structlog

from canary.core.model import CheckResult, Verdict
from canary.metrics.builtin import (
    REQUEST_SUCCESS_RATE,
    builtin_context,
    builtin_query,
    builtin_scale,
    is_builtin,
)
from canary.metrics.errors import FailureKind, MetricError, bounded
from canary.metrics.inputs import CanaryContext, MetricSpec
from canary.metrics.template import render

_log = structlog.get_logger(__name__)


class QueryClient(Protocol):
    """What a check needs of Prometheus: `PrometheusClient`, or a fake in tests."""

    async def query(self, promql: str) -> float:
        """The single finite value of `promql`, or a `MetricError` saying why not."""
        ...


@dataclass(frozen=True)
class CheckOutcome:
    """A check's result, and why it got no value (`failure` is None when it got one)."""

    result: CheckResult
    failure: FailureKind | None = None


async def run_check(
    metric: MetricSpec,
    *,
    context: CanaryContext,
    client: QueryClient,
) -> CheckResult:
    """Run `metric` for the canary in `context` against `client`; never raises for its faults."""
    return (await evaluate(metric, context=context, client=client)).result


async def evaluate(
    metric: MetricSpec,
    *,
    context: CanaryContext,
    client: QueryClient,
) -> CheckOutcome:
    """`run_check`, keeping the `FailureKind` of a check that got no value."""
    minimum, maximum = effective_bounds(metric)
    try:
        value = await client.query(render_query(metric, context=context))
        if _runs_builtin(metric):
            value *= builtin_scale(metric.name, provider=context.provider)
    except MetricError as error:
        message = bounded(f"{metric.name}: {explain(error, metric=metric, context=context)}")
        failed = CheckResult(metric.name, Verdict.FAIL, None, message, minimum, maximum)
        return CheckOutcome(failed, error.kind)
    except Exception as error:  # noqa: BLE001 - one metric must never crash the controller
        _log.exception("metric_check_crashed", metric=metric.name, canary=context.name)
        message = bounded(f"{metric.name}: internal error: {type(error).__name__}: {error}")
        failed = CheckResult(metric.name, Verdict.FAIL, None, message, minimum, maximum)
        return CheckOutcome(failed, FailureKind.INTERNAL)
    verdict, message = judge(metric.name, value, minimum=minimum, maximum=maximum)
    return CheckOutcome(CheckResult(metric.name, verdict, value, message, minimum, maximum))


def render_query(metric: MetricSpec, *, context: CanaryContext) -> str:
    """The PromQL `metric` runs for the canary in `context`, or a `MetricError` saying why not."""
    template = metric.template_query or metric.query
    if _runs_builtin(metric) or template is None:
        template = builtin_query(
            metric.name, provider=context.provider, target_kind=context.target_kind
        )
        context = builtin_context(context)
    return render(
        template,
        context=context,
        interval=metric.interval,
        variables=metric.template_variables,
    )


def explain(error: MetricError, *, metric: MetricSpec, context: CanaryContext) -> str:
    """The error's message; for a builtin with no data, with the likely cause: no traffic."""
    if _runs_builtin(metric) and error.kind in (FailureKind.NO_DATA, FailureKind.NAN):
        return (
            f"{error.message}; probably no traffic reached {context.target}"
            f" in namespace {context.namespace}"
        )
    return error.message


def _runs_builtin(metric: MetricSpec) -> bool:
    """Whether `metric` runs its name's builtin query (it has neither a template nor a query)."""
    template = metric.template_query or metric.query
    return (template is None or not template.strip()) and is_builtin(metric.name)


def effective_bounds(metric: MetricSpec) -> tuple[float | None, float | None]:
    """(min, max) from thresholdRange, else from the legacy `threshold` (Flagger's meaning)."""
    if metric.min is not None or metric.max is not None:
        return metric.min, metric.max
    if metric.threshold is None:
        return None, None
    if metric.name == REQUEST_SUCCESS_RATE:
        return metric.threshold, None
    return None, metric.threshold


def judge(
    name: str,
    value: float,
    *,
    minimum: float | None,
    maximum: float | None,
) -> tuple[Verdict, str]:
    """Pass when `minimum <= value <= maximum` (a missing bound does not limit), with a message."""
    shown = f"{name} {value:.2f}"
    if minimum is not None and value < minimum:
        return Verdict.FAIL, f"{shown} < {_number(minimum)} (min)"
    if maximum is not None and value > maximum:
        return Verdict.FAIL, f"{shown} > {_number(maximum)} (max)"
    if minimum is not None and maximum is not None:
        return Verdict.PASS, f"{shown} within [{_number(minimum)}, {_number(maximum)}]"
    if minimum is not None:
        return Verdict.PASS, f"{shown} >= {_number(minimum)} (min)"
    if maximum is not None:
        return Verdict.PASS, f"{shown} <= {_number(maximum)} (max)"
    return Verdict.PASS, f"{shown} (no thresholdRange: recorded, not judged)"


def _number(bound: float) -> str:
    """99 for 99.0, 99.5 for 99.5 (an int is a float to mypy but has no is_integer on 3.11)."""
    bound = float(bound)
    return str(int(bound)) if bound.is_integer() else repr(bound)
