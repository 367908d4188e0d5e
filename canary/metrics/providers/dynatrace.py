"""Dynatrace: a metric selector through the Metrics API v2 (`/api/v2/metrics/query`).

Flagger's semantics: the address is required (the environment's API URL, e.g.
https://<env>.live.dynatrace.com); the Secret's `dynatrace_token` is sent as
`Authorization: Api-Token ...`; the selector is asked with `resolution=Inf` from ten metric
intervals ago to now (milliseconds). The value is the first value of the one data series of the
one result. No result, no series or only null values are no data; several results or series
(several dimension tuples) are several series (Flagger takes the last series' first value).
This module must not judge thresholds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import (
    Request,
    fetch,
    finite,
    json_object,
    json_of,
    only,
    query_error,
)
from canary.metrics.providers.settings import Connections, ProviderSettings

TOKEN = "dynatrace_token"  # noqa: S105 - the name of the Secret's key, not a secret


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    return DynatraceClient(
        settings.require_address(),
        token=settings.key(TOKEN),
        window=settings.window_seconds(),
        insecure_skip_verify=settings.insecure_skip_verify,
        timeout=connections.timeout,
    )


class DynatraceClient:
    """Metric selector queries against one Dynatrace environment."""

    def __init__(  # noqa: PLR0913 - keyword-only: the endpoint, its token and its window
        self,
        address: str,
        *,
        token: str,
        window: float,
        insecure_skip_verify: bool,
        timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address.rstrip("/")
        self._headers = {"Authorization": f"Api-Token {token}"}
        self._window_ms = int(window * 1000)
        self._insecure = insecure_skip_verify
        self._timeout = timeout
        self._clock = clock

    async def query(self, query: str) -> float:
        now = int(self._clock() * 1000)
        request = Request(
            "Dynatrace",
            f"{self.address}/api/v2/metrics/query",
            self._timeout,
            params={
                "metricSelector": query,
                "resolution": "Inf",
                "from": str(now - self._window_ms),
                "to": str(now),
            },
            headers=self._headers,
            insecure_skip_verify=self._insecure,
        )
        return value_of(json_of(request, await fetch(request)))


def value_of(answer: Any) -> float:
    """The one value of a metrics query answer (see the module docstring)."""
    answer = json_object(answer)
    if answer.get("error"):
        error = answer["error"]
        raise query_error(error.get("message", error) if isinstance(error, dict) else error)
    result = only(
        answer.get("result"),
        listed="no result list",
        none="the selector matched no metric",
        several=lambda results: f"the selector matched {len(results)} metrics; it must match one",
    )
    series = only(
        result.get("data") if isinstance(result, dict) else None,
        listed="the result has no data list",
        none="the metric has no data in the window",
        several=lambda data: (
            f"the result has {len(data)} dimension tuples; it must have one"
            " (aggregate, e.g. :splitBy())"
        ),
    )
    values = series.get("values") if isinstance(series, dict) else None
    if not isinstance(values, list):
        raise MetricError(FailureKind.BAD_RESPONSE, "bad response: the series has no values")
    present = [value for value in values if value is not None]
    if not present:
        raise MetricError(FailureKind.NO_DATA, "no data: the series has no value in the window")
    return finite(present[0], what="the series' value")
