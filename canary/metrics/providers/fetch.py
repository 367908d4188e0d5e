"""One bounded HTTP exchange with a metrics provider's API, and its faults as `MetricError`s.

`fetch` sends one request with aiohttp and returns the body of a 2xx answer, read with
`read_at_most` (1 MiB) inside one `asyncio.timeout` for the whole exchange, so an endless or
hung answer costs neither memory nor time. Every other outcome is a `MetricError` of a precise
kind: 401/403 `AuthRefused`, 429 `Throttled`, 400/422 `QueryError` (the provider's own message
quoted), other statuses `HttpError`, TLS `TLSError`, no connection `Unreachable`, the deadline
`Timeout`, a too large body `ResponseTooLarge`. Messages name the provider and its URL without
query string (credentials redacted) and never a header, so an API key sent as a header or a
password sent as basic auth cannot appear in a status, an event or a log.

`json_of`, `json_object`, `only`, `query_error` and `finite` are the strict parts every
provider's parser shares: the shapes of an answer, never a provider's field names. There are no
retries: the controller asks again on its next tick. This module must not know any provider's
answer format.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from canary.core.redaction import redact_text, redact_url
from canary.http.bodies import AsyncReader, read_at_most
from canary.metrics.errors import FailureKind, MetricError, bounded

MAX_RESPONSE_BYTES: Final = 1 << 20
_EXCERPT: Final = 200
_QUERY_ERROR_STATUSES: Final = frozenset({400, 422})
_AUTH_STATUSES: Final = frozenset({401, 403})


@dataclass(frozen=True)
class Request:
    """One request to a provider. `provider` names it in messages (e.g. "Datadog")."""

    provider: str
    url: str
    timeout: float
    method: str = "GET"
    params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    body: bytes | None = None
    insecure_skip_verify: bool = False
    # For APIs that say "throttled" or "bad credentials" with HTTP 400 and a code in the body
    # (AWS): the kind an error answer really is, or None for the status' usual kind.
    classify: Callable[[int, bytes], FailureKind | None] | None = None
    # For a stream that may stay open after its last message (server-sent events): stop
    # reading once this marker has been read.
    end_marker: bytes | None = None

    @property
    def where(self) -> str:
        """`provider at URL`, without the query string and with credentials masked."""
        parts = urlsplit(self.url)
        return f"{self.provider} at {redact_url(urlunsplit(parts._replace(query='')))}"


async def fetch(request: Request, *, limit: int = MAX_RESPONSE_BYTES) -> bytes:
    """The body of `request`'s 2xx answer, or a `MetricError` saying why there is none."""
    headers = {"Accept-Encoding": "identity", **request.headers}
    if request.basic_auth is not None:
        pair = ":".join(request.basic_auth).encode()
        headers["Authorization"] = f"Basic {base64.b64encode(pair).decode()}"
    try:
        async with asyncio.timeout(request.timeout):
            async with (
                aiohttp.ClientSession() as session,
                session.request(
                    request.method,
                    request.url,
                    params=dict(request.params),
                    headers=headers,
                    data=request.body,
                    ssl=not request.insecure_skip_verify,
                    allow_redirects=False,
                ) as response,
            ):
                stream: AsyncReader = response.content
                if request.end_marker is not None:
                    stream = _UntilMarker(stream, request.end_marker)
                body = await read_at_most(stream, limit)
                status = response.status
                retry_after = response.headers.get("Retry-After")
    except TimeoutError:
        raise MetricError(
            FailureKind.TIMEOUT,
            f"{request.where}: no answer within {request.timeout:g}s",
        ) from None
    except aiohttp.ClientSSLError as error:
        raise MetricError(
            FailureKind.TLS_ERROR, f"{request.where}: TLS failed: {_reason(error)}"
        ) from None
    except aiohttp.ClientConnectionError as error:
        raise MetricError(
            FailureKind.UNREACHABLE, f"{request.where}: cannot connect: {_reason(error)}"
        ) from None
    except aiohttp.ClientError as error:
        raise MetricError(
            FailureKind.BAD_RESPONSE, f"{request.where}: bad answer: {_reason(error)}"
        ) from None
    if body.truncated and 200 <= status < 300:
        raise MetricError(
            FailureKind.RESPONSE_TOO_LARGE,
            f"{request.where}: answer larger than {limit} bytes; a metric check needs one number",
        )
    if 200 <= status < 300:
        return body.data
    raise _status_error(request, status, body.data, retry_after)


def json_of(request: Request, body: bytes) -> Any:
    """`body` parsed as JSON, or a `BadResponse` error quoting its start."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MetricError(
            FailureKind.BAD_RESPONSE,
            f"{request.where}: answer is not JSON: {excerpt(body)!r}",
        ) from None


def json_object(answer: Any) -> dict[str, Any]:
    """`answer` when it is a JSON object, else a `BadResponse` error."""
    if not isinstance(answer, dict):
        raise MetricError(FailureKind.BAD_RESPONSE, "bad response: expected a JSON object")
    return answer


def only(items: Any, *, listed: str, none: str, several: Callable[[list[Any]], str]) -> Any:
    """The one element of the JSON list `items`, or a `MetricError`: `bad response: {listed}`
    when it is not a list, `no data: {none}` when it is empty, and `several series:` followed
    by `several(items)` when it holds more than one."""
    if not isinstance(items, list):
        raise MetricError(FailureKind.BAD_RESPONSE, f"bad response: {listed}")
    if not items:
        raise MetricError(FailureKind.NO_DATA, f"no data: {none}")
    if len(items) > 1:
        raise MetricError(FailureKind.SEVERAL_SERIES, f"several series: {several(items)}")
    return items[0]


def query_error(detail: object) -> MetricError:
    """The `QueryError` for the provider's own error `detail`, quoted up to 300 characters."""
    return MetricError(FailureKind.QUERY_ERROR, f"query error: {str(detail)[:300]}")


def finite(value: Any, *, what: str) -> float:
    """`value` (a JSON number, or a string holding one) as a finite float, or a `MetricError`:
    NaN and ±Inf have their own kinds, anything else is a bad response naming `what`."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MetricError(FailureKind.BAD_RESPONSE, f"{what} is {value!r}, not a number")
    try:
        number = float(value)
    except ValueError:
        raise MetricError(
            FailureKind.BAD_RESPONSE, f"{what} is {bounded(str(value), 80)!r}, not a number"
        ) from None
    if math.isnan(number):
        raise MetricError(FailureKind.NAN, f"NaN: {what} is NaN (often 0/0: no requests)")
    if math.isinf(number):
        raise MetricError(FailureKind.INFINITE, f"{what} is infinite (division by 0?)")
    return number


def excerpt(body: bytes) -> str:
    """The start of `body` as text, credentials in URLs masked, for an error message."""
    text = body[: _EXCERPT * 4].decode("utf-8", errors="replace").strip()
    return redact_text(bounded(" ".join(text.split()), _EXCERPT))


def _status_error(
    request: Request, status: int, body: bytes, retry_after: str | None
) -> MetricError:
    detail = _error_detail(body)
    answer = f"HTTP {status} {_phrase(status)}" + (f": {detail}" if detail else "")
    kind = request.classify(status, body) if request.classify else None
    if kind is FailureKind.AUTH_REFUSED or (kind is None and status in _AUTH_STATUSES):
        return MetricError(
            FailureKind.AUTH_REFUSED,
            f"{request.where} refused the credentials ({answer}): check"
            " spec.provider.secretRef and its Secret",
        )
    if kind is FailureKind.THROTTLED or (kind is None and status == HTTPStatus.TOO_MANY_REQUESTS):
        wait = f"; it asks to retry after {bounded(retry_after, 40)}" if retry_after else ""
        return MetricError(
            FailureKind.THROTTLED, f"{request.where} throttled the query ({answer}){wait}"
        )
    if kind is not None and kind is not FailureKind.QUERY_ERROR:
        return MetricError(kind, f"{request.where}: {answer}")
    if kind is FailureKind.QUERY_ERROR or status in _QUERY_ERROR_STATUSES:
        return MetricError(FailureKind.QUERY_ERROR, f"{request.where}: query error ({answer})")
    return MetricError(FailureKind.HTTP_ERROR, f"{request.where}: {answer}")


def _error_detail(body: bytes) -> str:
    """The provider's own error message when its body is a JSON error document, else the
    body's start."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return excerpt(body)
    if isinstance(document, dict):
        for key in ("errors", "error", "message", "Message"):
            value = document.get(key)
            if isinstance(value, dict):
                value = value.get("message", value)
            if isinstance(value, list):
                value = "; ".join(str(item) for item in value)
            if value:
                return redact_text(bounded(str(value), _EXCERPT))
    return excerpt(body)


class _UntilMarker:
    """A stream that ends at the first blank line (the end of a server-sent event) after
    `marker` has gone by."""

    def __init__(self, stream: AsyncReader, marker: bytes) -> None:
        self._stream = stream
        self._marker = marker
        self._window = b""  # the last bytes read, enough to find a marker cut by a chunk
        self._after: bytes | None = None  # what followed the marker, once it was seen
        self._done = False

    async def read(self, n: int = -1) -> bytes:
        if self._done:
            return b""
        chunk = await self._stream.read(n)
        if self._after is None:
            seen = self._window + chunk
            at = seen.find(self._marker)
            if at >= 0:
                self._after = seen[at + len(self._marker) :]
            self._window = seen[-len(self._marker) :]
        else:
            self._after = self._after[-3:] + chunk
        if self._after is not None and (b"\n\n" in self._after or b"\r\n\r\n" in self._after):
            self._done = True
        return chunk


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _reason(error: BaseException) -> str:
    return redact_text(bounded(str(error) or type(error).__name__, 200))
