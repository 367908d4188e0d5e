"""The controller's own Prometheus metrics, served on /metrics (prometheus_client's registry).

- `canary_api_requests_total{verb, resource, code}`: every request to the Kubernetes API server
  (defined in `canary.kube.metrics`, which counts them; re-exported here);
- `canary_api_request_duration_seconds{verb, resource}`: how long each of them took to answer
  (watches excluded; also from `canary.kube.metrics`);
- `canary_reconcile_total{result}`: reconcile cycles by outcome: `ok`, `conflict` (the status
  write lost a race and the cycle reruns at once), `timeout` (the cycle overran its deadline,
  `canary.controller.deadline`, was cut short and runs again later) or `error` (the cycle
  raised; the scheduler retries it with backoff);
- `canary_reconcile_duration_seconds`: how long one cycle took, whatever its outcome.

`instrument_cycle` wraps a cycle function to record both; the cycle calls `mark_conflict` where it
swallows a conflict, `mark_timeout` where it cuts itself short. The release series (Flagger's
`flagger_canary_*`, `canary_canaries`, tick lateness) are in `canary.telemetry.releases`, event loop
lag in `canary.telemetry.loop`; every series is listed in docs/operating.md.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Final, ParamSpec

from prometheus_client import Counter, Histogram

from canary.kube.metrics import API_REQUEST_DURATION, API_REQUESTS

__all__ = [
    "API_REQUESTS",
    "API_REQUEST_DURATION",
    "RECONCILES",
    "RECONCILE_DURATION",
    "instrument_cycle",
    "mark_conflict",
    "mark_timeout",
]

RECONCILES: Final = Counter(
    "canary_reconcile_total",
    "Reconcile cycles, by result: ok, conflict (status write lost a race), timeout (cut short "
    "by its deadline) or error (raised).",
    ["result"],
)
RECONCILE_DURATION: Final = Histogram(
    "canary_reconcile_duration_seconds",
    "Wall time of one reconcile cycle, API requests and metric checks included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

# The result of the cycle running in this task, when it is not simply ok or error.
_RESULT: ContextVar[str | None] = ContextVar("canary_reconcile_result", default=None)

P = ParamSpec("P")


def mark_conflict() -> None:
    """The current cycle ended on a conflict it handled (counted as `conflict`, not `ok`)."""
    _RESULT.set("conflict")


def mark_timeout() -> None:
    """The current cycle overran its deadline and was cut short (counted as `timeout`)."""
    _RESULT.set("timeout")


def instrument_cycle(cycle: Callable[P, Awaitable[float]]) -> Callable[P, Awaitable[float]]:
    """Count `cycle`'s outcomes in `RECONCILES` and time it in `RECONCILE_DURATION`."""

    @functools.wraps(cycle)
    async def timed(*args: P.args, **kwargs: P.kwargs) -> float:
        token = _RESULT.set(None)
        started = time.perf_counter()
        result: str | None = "error"
        try:
            delay = await cycle(*args, **kwargs)
        except asyncio.CancelledError:
            result = None  # the controller is stopping: not an outcome of the cycle
            raise
        else:
            result = _RESULT.get() or "ok"
            return delay
        finally:
            if result is not None:
                RECONCILE_DURATION.observe(time.perf_counter() - started)
                RECONCILES.labels(result=result).inc()
            _RESULT.reset(token)

    return timed
