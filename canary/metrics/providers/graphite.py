"""Graphite: a render API query (`target=...&from=...`) answered with JSON series.

Flagger's semantics: the template's query is the render API's query string (whitespace runs
collapsed), `format=json` is added, and the answer is a list of series `{"target": ...,
"datapoints": [[value, timestamp], ...]}` whose values may be null. The value is the series'
last non-null datapoint. Unlike Flagger, which takes the last non-null value of whichever
series comes last, several series that hold values fail with `SeveralSeries`. Credentials:
with a secretRef, its `username` and `password` are sent as basic auth. This module must not
judge thresholds.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import Request, fetch, finite, json_of
from canary.metrics.providers.settings import Connections, ProviderSettings

_SPACE = re.compile(r"\s+")


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    auth = None
    if settings.secret is not None:
        auth = (settings.key("username"), settings.key("password"))
    return GraphiteClient(
        settings.require_address(),
        basic_auth=auth,
        insecure_skip_verify=settings.insecure_skip_verify,
        timeout=connections.timeout,
    )


class GraphiteClient:
    """Render API queries against one Graphite (graphite-web or a compatible API)."""

    def __init__(
        self,
        address: str,
        *,
        basic_auth: tuple[str, str] | None,
        insecure_skip_verify: bool,
        timeout: float,
    ) -> None:
        self.address = address.rstrip("/")
        self._auth = basic_auth
        self._insecure = insecure_skip_verify
        self._timeout = timeout

    async def query(self, query: str) -> float:
        params = dict(parse_qsl(_SPACE.sub(" ", query).strip(), keep_blank_values=True))
        if not params.get("target"):
            raise MetricError(
                FailureKind.TEMPLATE_ERROR,
                "a Graphite query is a render API query string with a target, e.g."
                " target=summarize(...)&from=-1min",
            )
        params["format"] = "json"
        request = Request(
            "Graphite",
            f"{self.address}/render",
            self._timeout,
            params=params,
            basic_auth=self._auth,
            insecure_skip_verify=self._insecure,
        )
        return value_of(json_of(request, await fetch(request)))


def value_of(answer: Any) -> float:
    """The one value of a render API JSON answer (see the module docstring)."""
    if not isinstance(answer, list):
        raise MetricError(
            FailureKind.BAD_RESPONSE,
            f"bad response: expected a list of series, got {type(answer).__name__}",
        )
    found: list[tuple[str, Any]] = []
    for series in answer:
        if not isinstance(series, dict) or not isinstance(series.get("datapoints"), list):
            raise MetricError(
                FailureKind.BAD_RESPONSE,
                f"bad response: a series without datapoints: {series!r:.120}",
            )
        values = [_point_value(point) for point in series["datapoints"]]
        present = [value for value in values if value is not None]
        if present:
            found.append((str(series.get("target", "?")), present[-1]))
    if not found:
        raise MetricError(
            FailureKind.NO_DATA, "no data: the query returned no datapoint with a value"
        )
    if len(found) > 1:
        names = ", ".join(name for name, _ in found[:3])
        raise MetricError(
            FailureKind.SEVERAL_SERIES,
            f"several series: the query returned {len(found)} series ({names}); it must return one"
            " (aggregate them, e.g. sumSeries)",
        )
    name, value = found[0]
    return finite(value, what=f"the last value of {name}")


def _point_value(point: Any) -> Any:
    if not isinstance(point, list) or len(point) != 2:
        raise MetricError(
            FailureKind.BAD_RESPONSE,
            f"bad response: datapoint {point!r:.80} is not [value, timestamp]",
        )
    return point[0]
