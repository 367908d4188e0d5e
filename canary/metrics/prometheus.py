"""The Prometheus client: one PromQL query in, one finite float out, or a `MetricError` saying why.

prometheus-api-client is synchronous (requests), so every query runs on a small thread pool of
this client's own (never the event loop, and never the loop's default executor, which aiohttp
needs for DNS: hung queries must not starve webhooks), bounded by `asyncio.timeout`, by requests'
connect/read timeouts and by Prometheus' own `timeout` parameter. There are no retries: the
controller asks again on its next tick, and a check that got no value fails (DESIGN.md §3.3).

Every response is read and judged by a response hook before prometheus-api-client sees it. The
hook runs before requests reads the body, so it streams the body itself: at most 1 MiB, and
nothing after the query's deadline (each read is given the time left as its socket timeout), so
an endless chunked answer costs neither memory nor time; the connection is then closed. It also
checks the JSON envelope (status, resultType), because prometheus-api-client returns only
`data.result` and would hide a matrix, a string or an error carried with HTTP 200. Errors name
the URL (credentials redacted), the HTTP status and Prometheus' errorType, in at most a few
hundred characters.

This module is the only one that imports prometheus_api_client or requests. It must not render
templates or judge thresholds.
"""

from __future__ import annotations

import ast
import asyncio
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import requests
import urllib3
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.retry import Retry

from canary.core.redaction import redact_url
from canary.http.bodies import DeadlineExceededError, read_within
from canary.metrics.errors import FailureKind, MetricError, bounded
from canary.metrics.instant import single_value
from canary.metrics.series import Series, matrix

DEFAULT_TIMEOUT = 10.0
# A rendered query longer than this is refused (reliability.md §4.6): it is sent in the URL.
MAX_QUERY_BYTES = 4096
# A query judged here answers with one sample; anything bigger is not a metric check.
MAX_RESPONSE_BYTES = 1 << 20
_LIMIT_TEXT = "1 MiB"
_EXCERPT = 200

# Prometheus answers a query it cannot parse with 400 (bad_data) and one it cannot execute with
# 422 (execution); other statuses (401 from a proxy, 503 timeout or overload) are HTTP errors.
_QUERY_ERROR_STATUSES = frozenset({400, 422})
_STATUS_MESSAGE = re.compile(r"HTTP Status Code (\d+) \((.*)\)", re.DOTALL)
_OBJECT_REPR = re.compile(r"<[^<>]*>:?\s*")
_CONNECTION_REASONS = (
    ("Connection refused", "connection refused"),
    ("Name or service not known", "DNS lookup failed"),
    ("Temporary failure in name resolution", "DNS lookup failed"),
    ("nodename nor servname", "DNS lookup failed"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "network unreachable"),
    ("Connection reset", "connection reset"),
    ("Remote end closed connection", "connection closed without a response"),
)


@dataclass(frozen=True)
class Credentials:
    """A MetricTemplate secret's credentials: a bearer token, or a user name and password."""

    bearer_token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)


class PrometheusClient:
    """Instant queries against one Prometheus server, each bounded in time and in size (and
    range queries, for the CLI's charts only).

    `timeout` bounds every query end to end (seconds, default 10); `max_in_flight` bounds the
    threads this client may block in hung requests. Close it (or use `async with`) when done.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        credentials: Credentials | None = None,
        insecure_skip_verify: bool = False,
        max_in_flight: int = 4,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, not {timeout}")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.display_url = redact_url(self.url)
        # The deadline of the query the calling thread runs, for the response hook.
        self._deadline = threading.local()
        session = requests.Session()
        session.verify = not insecure_skip_verify
        # Bodies are counted as they come: no compression, whose bytes would not be the answer's.
        session.headers["Accept-Encoding"] = "identity"
        session.hooks["response"].append(self._check_envelope)
        credentials = credentials or Credentials()
        headers = None
        if credentials.bearer_token:
            headers = {"Authorization": f"Bearer {credentials.bearer_token}"}
        auth = None
        if credentials.username is not None:
            auth = (credentials.username, credentials.password or "")
        self._connect = PrometheusConnect(
            url=self.url,
            headers=headers,
            auth=auth,
            session=session,
            timeout=(timeout, timeout),
            # No retries: a retry would outlive the tick's budget; the next tick asks again.
            retry=Retry(total=0, raise_on_status=False),
        )
        self._executor = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="prom")

    async def query(self, promql: str) -> float:
        """The single finite value of the instant query `promql`, or a `MetricError`."""
        size = len(promql.encode())
        if size > MAX_QUERY_BYTES:
            raise MetricError(
                FailureKind.QUERY_TOO_LONG,
                f"the query is {size} bytes long; the limit is {MAX_QUERY_BYTES}",
            )
        loop = asyncio.get_running_loop()
        blocking = partial(self._query_blocking, promql, deadline=time.monotonic() + self.timeout)
        try:
            async with asyncio.timeout(self.timeout):
                result = await loop.run_in_executor(self._executor, blocking)
        except TimeoutError:
            raise self._timed_out() from None
        return single_value(result)

    async def query_range(
        self, promql: str, *, start: datetime, end: datetime, step: int
    ) -> tuple[Series, ...]:
        """Every series of the range query `promql` from `start` to `end`, one point every
        `step` seconds (whole seconds, as are `start` and `end` once sent), or a `MetricError`.

        For charts only: gaps (NaN, no sample) are kept as such, never judged.
        """
        size = len(promql.encode())
        if size > MAX_QUERY_BYTES:
            raise MetricError(
                FailureKind.QUERY_TOO_LONG,
                f"the query is {size} bytes long; the limit is {MAX_QUERY_BYTES}",
            )
        if step < 1 or end <= start:
            raise ValueError(f"a range needs start < end and a step of 1 s or more, not {step}")
        loop = asyncio.get_running_loop()
        blocking = partial(
            self._query_blocking,
            promql,
            deadline=time.monotonic() + self.timeout,
            window=(start, end, step),
        )
        try:
            async with asyncio.timeout(self.timeout):
                result = await loop.run_in_executor(self._executor, blocking)
        except TimeoutError:
            raise self._timed_out() from None
        return matrix(result)

    async def is_online(self) -> bool:
        """Whether Prometheus answers `vector(1)` with 1 (Flagger's availability check)."""
        try:
            return await self.query("vector(1)") == 1.0
        except MetricError:
            return False

    def close(self, *, cancel_pending: bool = True) -> None:
        """Release the connection pool; a thread still blocked ends at its deadline. Queries
        still waiting for a thread are cancelled, unless `cancel_pending` is False (they then
        run, and end as their deadline says)."""
        self._executor.shutdown(wait=False, cancel_futures=cancel_pending)
        self._connect.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _query_blocking(
        self,
        promql: str,
        *,
        deadline: float,
        window: tuple[datetime, datetime, int] | None = None,
    ) -> Any:
        """Runs on the client's thread pool; every failure leaves as a `MetricError`.

        An instant query, or with `window` (start, end, step) a range query. None starts, and
        no body is read, after `deadline` (a `time.monotonic()` value); waiting for the answer's
        headers is bounded by requests' connect and read timeouts.
        """
        if time.monotonic() >= deadline:  # waited for a thread past the caller's patience
            raise self._timed_out()
        self._deadline.value = deadline
        params = {"timeout": f"{self.timeout:g}"}  # Prometheus stops evaluating at our deadline
        try:
            if window is not None:
                start, end, step = window
                return self._connect.custom_query_range(
                    promql, start_time=start, end_time=end, step=str(step), params=params
                )
            return self._connect.custom_query(promql, params=params)
        except MetricError:
            raise
        except PrometheusApiClientException as error:
            raise self._status_error(str(error)) from None
        except requests.exceptions.SSLError as error:
            raise MetricError(
                FailureKind.TLS_ERROR,
                f"TLS handshake with Prometheus at {self.display_url} failed: {_reason(error)}",
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise MetricError(
                FailureKind.UNREACHABLE,
                f"Prometheus unreachable at {self.display_url}: connection timed out"
                f" after {self.timeout:g} s",
            ) from None
        except requests.exceptions.ReadTimeout:
            raise self._timed_out() from None
        except requests.exceptions.ConnectionError as error:
            raise MetricError(
                FailureKind.UNREACHABLE,
                f"Prometheus unreachable at {self.display_url}: {_reason(error)}",
            ) from None
        except requests.exceptions.RequestException as error:
            raise MetricError(
                FailureKind.BAD_RESPONSE,
                f"bad response from Prometheus at {self.display_url}: {_reason(error)}",
            ) from None
        except (ValueError, KeyError, TypeError) as error:
            raise MetricError(
                FailureKind.BAD_RESPONSE,
                f"bad response from Prometheus at {self.display_url}: {error!r}",
            ) from None

    def _check_envelope(self, response: Any, *_args: Any, **_kwargs: Any) -> None:
        """requests response hook: read the body within bounds, and refuse what
        prometheus-api-client would misread."""
        try:
            body = self._read_body(response)
        except BaseException:
            response.close()  # the body was not read to its end: the connection cannot be reused
            raise
        if response.status_code != 200:
            return  # prometheus-api-client raises PrometheusApiClientException with the body
        try:
            document = json.loads(body)
        except ValueError:
            raise MetricError(
                FailureKind.BAD_RESPONSE,
                f"bad response from Prometheus at {self.display_url}: not JSON (HTTP 200):"
                f" {_excerpt(body)!r}",
            ) from None
        status = document.get("status") if isinstance(document, dict) else None
        if status == "error":
            raise MetricError(
                FailureKind.QUERY_ERROR,
                f"query error: {_prometheus_error(document)} (HTTP 200)",
            )
        data = document.get("data") if status == "success" else None
        if not isinstance(data, dict) or "result" not in data:
            raise MetricError(
                FailureKind.BAD_RESPONSE,
                f"bad response from Prometheus at {self.display_url}: JSON without"
                f' status "success" and data.result: {_excerpt(body)!r}',
            )
        match data.get("resultType"):
            case "vector" | "scalar":
                return
            case "matrix" if urlsplit(response.url).path.endswith("/api/v1/query_range"):
                return  # what a range query (`query_range`) asks for
            case "matrix":
                raise MetricError(
                    FailureKind.UNSUPPORTED_RESULT,
                    "matrix result (a range vector); the query must return an instant vector"
                    " or a scalar",
                )
            case "string":
                raise MetricError(
                    FailureKind.UNSUPPORTED_RESULT,
                    "string result; the query must return an instant vector or a scalar",
                )
            case other:
                raise MetricError(
                    FailureKind.BAD_RESPONSE,
                    f"bad response from Prometheus at {self.display_url}: unknown resultType"
                    f" {other!r}",
                )

    def _read_body(self, response: Any) -> bytes:
        """The whole body, read in chunks before the deadline and within the size limit; kept
        as `response.content` for prometheus-api-client (requests has not read it yet)."""
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > MAX_RESPONSE_BYTES:
            raise self._too_large(int(length))
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in {"", "identity"}:
            raise MetricError(
                FailureKind.BAD_RESPONSE,
                f"bad response from Prometheus at {self.display_url}: compressed"
                f" ({encoding}) though no compression was asked for",
            )
        raw: urllib3.HTTPResponse = response.raw

        def read(size: int, timeout: float) -> bytes:
            connection = raw.connection
            sock = getattr(connection, "sock", None) if connection is not None else None
            if sock is not None:
                sock.settimeout(timeout)  # one read never outlasts the query's deadline
            return raw.read1(size, decode_content=False)

        try:
            body = read_within(read, limit=MAX_RESPONSE_BYTES, deadline=self._deadline.value)
        except (DeadlineExceededError, TimeoutError, Urllib3Timeout):
            raise self._timed_out() from None
        except (OSError, Urllib3Error) as error:
            raise MetricError(
                FailureKind.BAD_RESPONSE,
                f"bad response from Prometheus at {self.display_url}: the body could not be"
                f" read: {_reason(error)}",
            ) from None
        if body.truncated:
            raise MetricError(
                FailureKind.RESPONSE_TOO_LARGE,
                f"answer from Prometheus at {self.display_url} is larger than {_LIMIT_TEXT}"
                f" ({MAX_RESPONSE_BYTES} bytes, the limit); reading stopped there",
            )
        # requests' own cache of a read body: prometheus-api-client reads `response.content`.
        response._content = body.data
        response._content_consumed = True
        raw.release_conn()  # read to its end: the connection may serve the next query
        return body.data

    def _status_error(self, text: str) -> MetricError:
        """Classify prometheus-api-client's "HTTP Status Code N (b'body')" exception."""
        match = _STATUS_MESSAGE.fullmatch(text)
        if match is None:
            return MetricError(
                FailureKind.HTTP_ERROR, f"Prometheus at {self.display_url}: {bounded(text, 300)}"
            )
        status = int(match.group(1))
        body = _literal_bytes(match.group(2))
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict) and "errorType" in document:
            detail = _prometheus_error(document)
            if status in _QUERY_ERROR_STATUSES:
                return MetricError(
                    FailureKind.QUERY_ERROR, f"query error: {detail} (HTTP {status})"
                )
        else:
            detail = repr(_excerpt(body)) if body else "empty body"
        status_line = " ".join(filter(None, (f"HTTP {status}", _phrase(status))))
        return MetricError(
            FailureKind.HTTP_ERROR,
            f"{status_line} from Prometheus at {self.display_url}: {detail}",
        )

    def _timed_out(self) -> MetricError:
        return MetricError(
            FailureKind.TIMEOUT,
            f"Prometheus at {self.display_url} sent no complete answer within {self.timeout:g} s",
        )

    def _too_large(self, size: int) -> MetricError:
        return MetricError(
            FailureKind.RESPONSE_TOO_LARGE,
            f"response from Prometheus at {self.display_url} is {size} bytes; the limit is"
            f" {MAX_RESPONSE_BYTES}",
        )


def _prometheus_error(document: dict[str, Any]) -> str:
    error_type = document.get("errorType") or "unknown"
    return f"{error_type}: {bounded(str(document.get('error', '')), 500)}"


def _literal_bytes(text: str) -> bytes:
    """The body prometheus-api-client embedded in its message as a bytes literal."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text.encode()
    return value if isinstance(value, bytes) else text.encode()


def _excerpt(body: bytes) -> str:
    text = " ".join(body.decode("utf-8", errors="replace").split())
    return bounded(text, _EXCERPT)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _reason(error: BaseException) -> str:
    text = str(error)
    for needle, reason in _CONNECTION_REASONS:
        if needle in text:
            return reason
    return bounded(_OBJECT_REPR.sub("", text), 300)
