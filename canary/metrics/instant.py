"""The one finite number of a Prometheus instant query's answer, for a check.

A check fails closed: no series, several series, NaN, ±Inf or a sample that holds no number are
each a `MetricError` with a precise `FailureKind` and a message saying why (DESIGN.md §3 point 3).
A chart reads range queries instead (`canary.metrics.series`), where a gap is not an error.
This module does no I/O.
"""

from __future__ import annotations

import json
import math
from typing import Any

from canary.metrics.errors import FailureKind, MetricError

_SERIES_SHOWN = 3


def single_value(result: Any) -> float:
    """The one finite number in an instant query's `data.result`, or a `MetricError` saying why.

    A scalar result (`[time, "value"]`) is accepted; a vector must hold exactly one series.
    """
    if not isinstance(result, list):
        raise MetricError(FailureKind.BAD_RESPONSE, f"bad response: data.result is {result!r}")
    if result and not isinstance(result[0], dict):
        sample: Any = result
    elif not result:
        raise MetricError(FailureKind.NO_DATA, "no data: the query returned no series")
    elif len(result) > 1:
        raise MetricError(
            FailureKind.SEVERAL_SERIES,
            f"{len(result)} series; the query must aggregate to one: {_series_list(result)}",
        )
    else:
        sample = result[0].get("value")
    try:
        value = float(sample[1])
    except (TypeError, ValueError, IndexError, KeyError):
        raise MetricError(
            FailureKind.BAD_RESPONSE, f"bad response: the sample {sample!r} holds no number"
        ) from None
    if math.isnan(value):
        raise MetricError(
            FailureKind.NAN, "NaN: the query returned NaN (often 0/0: no requests in the interval)"
        )
    if math.isinf(value):
        sign = "+Inf" if value > 0 else "-Inf"
        raise MetricError(
            FailureKind.INFINITE, f"{sign}: the query returned an infinite value (division by 0?)"
        )
    return value


def _series_list(result: list[Any]) -> str:
    shown = [_labels(series.get("metric")) for series in result[:_SERIES_SHOWN]]
    more = len(result) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _labels(metric: Any) -> str:
    if not isinstance(metric, dict):
        return "{}"
    return (
        "{" + ", ".join(f"{key}={json.dumps(value)}" for key, value in sorted(metric.items())) + "}"
    )
