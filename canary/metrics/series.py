"""Time series from a Prometheus range query, for charts (`canary describe`), never for checks.

A check needs one finite number and fails closed on anything else
(`canary.metrics.instant.single_value`). A chart is different: a gap (no sample, NaN) is
something to show, not an error. So this module keeps NaN as a gap rather than refusing it, and
refuses only answers that are not a matrix.
It must not do I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canary.metrics.errors import FailureKind, MetricError


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and its (unix time, value) points in time order.

    A value is None where Prometheus answered NaN or ±Inf (a gap in a chart).
    """

    labels: Mapping[str, str] = field(default_factory=dict)
    points: tuple[tuple[float, float | None], ...] = ()

    def at(self, timestamp: float) -> float | None:
        """The value at exactly `timestamp` (range queries answer on their step grid)."""
        return next((value for time, value in self.points if time == timestamp), None)


def matrix(result: Any) -> tuple[Series, ...]:
    """The series in a range query's `data.result` (`[{metric, values: [[t, "v"], ...]}]`)."""
    if not isinstance(result, list):
        raise MetricError(FailureKind.BAD_RESPONSE, f"bad response: data.result is {result!r}")
    found = []
    for item in result:
        if not isinstance(item, dict) or not isinstance(item.get("values"), list):
            raise MetricError(
                FailureKind.BAD_RESPONSE, f"bad response: not a series of a matrix: {item!r:.200}"
            )
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        found.append(Series(labels=labels, points=tuple(_point(p) for p in item["values"])))
    return tuple(found)


def _point(sample: Any) -> tuple[float, float | None]:
    try:
        time, value = float(sample[0]), float(sample[1])
    except (TypeError, ValueError, IndexError, KeyError):
        raise MetricError(
            FailureKind.BAD_RESPONSE, f"bad response: the sample {sample!r:.100} holds no number"
        ) from None
    return time, value if math.isfinite(value) else None
