"""Datadog: a metrics query (`/api/v1/query`) over a window of ten metric intervals.

Flagger's semantics: the Secret's `datadog_api_key` and `datadog_application_key` are sent as
the `DD-API-KEY` and `DD-APPLICATION-KEY` headers; the address defaults to
https://api.datadoghq.com; the query is asked `from` ten metric intervals ago `to` now, and the
value is the oldest point of the series (the newest bucket is often incomplete). Points whose
value is null are skipped. Unlike Flagger, which takes the first of several series, several
series fail with `SeveralSeries`; an answer with `"status": "error"` is a query error.
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

DEFAULT_ADDRESS = "https://api.datadoghq.com"
API_KEY = "datadog_api_key"
APPLICATION_KEY = "datadog_application_key"


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    return DatadogClient(
        (settings.address or DEFAULT_ADDRESS).rstrip("/"),
        api_key=settings.key(API_KEY),
        application_key=settings.key(APPLICATION_KEY),
        window=settings.window_seconds(),
        insecure_skip_verify=settings.insecure_skip_verify,
        timeout=connections.timeout,
    )


class DatadogClient:
    """Metric queries against Datadog's API with one API and application key."""

    def __init__(  # noqa: PLR0913 - keyword-only: the endpoint, its keys and its window
        self,
        address: str,
        *,
        api_key: str,
        application_key: str,
        window: float,
        insecure_skip_verify: bool,
        timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address
        self._headers = {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": application_key}
        self._window = int(window)
        self._insecure = insecure_skip_verify
        self._timeout = timeout
        self._clock = clock

    async def query(self, query: str) -> float:
        now = int(self._clock())
        request = Request(
            "Datadog",
            f"{self.address}/api/v1/query",
            self._timeout,
            params={"query": query, "from": str(now - self._window), "to": str(now)},
            headers=self._headers,
            insecure_skip_verify=self._insecure,
        )
        return value_of(json_of(request, await fetch(request)))


def value_of(answer: Any) -> float:
    """The one value of a `/api/v1/query` answer (see the module docstring)."""
    answer = json_object(answer)
    if answer.get("status") == "error" or answer.get("error"):
        raise query_error(answer.get("error"))
    series = only(
        answer.get("series"),
        listed="no series list",
        none="the query returned no series",
        several=_several,
    )
    points = series.get("pointlist") if isinstance(series, dict) else None
    if not isinstance(points, list):
        raise MetricError(FailureKind.BAD_RESPONSE, "bad response: the series has no pointlist")
    for point in points:
        if not isinstance(point, list) or len(point) != 2:
            raise MetricError(FailureKind.BAD_RESPONSE, f"bad response: point {point!r:.80}")
        if point[1] is not None:
            return finite(point[1], what="the series' oldest point")
    raise MetricError(FailureKind.NO_DATA, "no data: the series has no point with a value")


def _several(series: list[Any]) -> str:
    names = ", ".join(str(item.get("scope", "?")) for item in series[:3] if isinstance(item, dict))
    return (
        f"the query returned {len(series)} series ({names}); it must return"
        " one (aggregate, e.g. sum:...{...})"
    )
