"""Splunk Observability Cloud (SignalFx, Flagger's `splunk`): a SignalFlow program, executed over
SignalFlow's HTTP API, its answer read as server-sent events.

Flagger's semantics: the address is required (`https://api.<realm>.signalfx.com`, or the stream
host; an `api.` host is asked at `stream.`, as Flagger does); the Secret's `sf_token_key` is
sent as `X-SF-Token`; the program runs from ten metric intervals ago to now with
`immediate=true`. Every `data` message's datapoints count; null values are dropped; more than
one time series id is several series; none is no data; the value is the last datapoint.
Flagger's client speaks the WebSocket API; this one POSTs to `/v2/signalflow/execute`, whose
messages are the same (documented) JSON, one per event, and stops reading at the channel's
end. An `error` message, or a `CHANNEL_ABORT`, is a query error. This module must not judge
thresholds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import Request, fetch, finite, query_error
from canary.metrics.providers.settings import Connections, ProviderSettings

TOKEN = "sf_token_key"  # noqa: S105 - the name of the Secret's key, not a secret
_END = b"END_OF_CHANNEL"


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    return SplunkClient(
        stream_address(settings.require_address()),
        token=settings.key(TOKEN),
        window=settings.window_seconds(),
        insecure_skip_verify=settings.insecure_skip_verify,
        timeout=connections.timeout,
    )


def stream_address(address: str) -> str:
    """The SignalFlow stream endpoint for `address`: `api.` hosts become `stream.`, and a
    WebSocket scheme its HTTP one."""
    parts = urlsplit(address.rstrip("/"))
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    netloc = parts.netloc
    if netloc.startswith("api."):
        netloc = "stream." + netloc.removeprefix("api.")
    path = parts.path.removesuffix("/v2/signalflow").removesuffix("/v2/signalflow/connect")
    return urlunsplit((scheme, netloc, path, "", ""))


class SplunkClient:
    """SignalFlow programs run against one Splunk Observability realm."""

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
        self.address = address
        self._headers = {"X-SF-Token": token, "Content-Type": "text/plain"}
        self._window_ms = int(window * 1000)
        self._insecure = insecure_skip_verify
        self._timeout = timeout
        self._clock = clock

    async def query(self, query: str) -> float:
        now = int(self._clock() * 1000)
        request = Request(
            "Splunk Observability",
            f"{self.address}/v2/signalflow/execute",
            self._timeout,
            method="POST",
            params={"start": str(now - self._window_ms), "stop": str(now), "immediate": "true"},
            headers=self._headers,
            body=query.encode(),
            insecure_skip_verify=self._insecure,
            end_marker=_END,
        )
        return value_of(await fetch(request))


def events(body: bytes) -> list[tuple[str, Any]]:
    """The (event name, JSON payload) pairs of a server-sent event stream."""
    parsed: list[tuple[str, Any]] = []
    text = body.decode("utf-8", errors="replace").replace("\r\n", "\n")
    for block in text.split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        if not data:
            continue
        try:
            parsed.append((name, json.loads("\n".join(data))))
        except ValueError:
            raise MetricError(
                FailureKind.BAD_RESPONSE, f"bad response: a {name} event is not JSON"
            ) from None
    return parsed


def value_of(body: bytes) -> float:
    """The one value of a SignalFlow execution's events (see the module docstring)."""
    points: list[tuple[str, Any]] = []
    ended = False
    for name, payload in events(body):
        if not isinstance(payload, dict):
            continue
        if name == "error":
            errors = payload.get("errors") or [payload]
            described = "; ".join(
                str(e.get("message") or e.get("code") or e) if isinstance(e, dict) else str(e)
                for e in errors
            )
            raise query_error(described)
        if name == "control-message" and payload.get("event") == "CHANNEL_ABORT":
            info = payload.get("abortInfo") or {}
            raise MetricError(
                FailureKind.QUERY_ERROR, f"query error: computation aborted: {info}"[:300]
            )
        if name == "control-message" and payload.get("event") == "END_OF_CHANNEL":
            ended = True
        if name == "data":
            for datum in payload.get("data") or []:
                if isinstance(datum, dict) and datum.get("value") is not None:
                    points.append((str(datum.get("tsId")), datum["value"]))
    if not points:
        if not ended:
            raise MetricError(
                FailureKind.BAD_RESPONSE, "bad response: the stream ended before END_OF_CHANNEL"
            )
        raise MetricError(FailureKind.NO_DATA, "no data: the program published no datapoint")
    series = {tsid for tsid, _ in points}
    if len(series) > 1:
        raise MetricError(
            FailureKind.SEVERAL_SERIES,
            f"several series: the program published {len(series)} time series; it must"
            " publish one (aggregate, e.g. .sum())",
        )
    return finite(points[-1][1], what="the last datapoint")
