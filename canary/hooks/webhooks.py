"""The webhook client: one Flagger-compatible POST, judged, retried and bounded; never raising.

A Canary's `analysis.webhooks[]` entry becomes a `WebhookSpec` (the controller converts it, so
nothing here depends on the API models) and the call's context a `WebhookPayload`, serialised
exactly as Flagger's `CanaryWebhookPayload`. `call_webhook` POSTs it and answers a
`WebhookResult`; a remote's faults (refused connections, hangs, 500s, redirects, huge bodies) are
results, never exceptions.

Safe by default (DESIGN.md §3 point 10, reliability.md §4.2): only http and https URLs; redirects
are never followed (a 3xx fails, naming its Location); every attempt is bounded in time and its
response body in size; TLS is verified unless the hook sets `disableTLS`. Success is HTTP 200,
201 or 202, as in Flagger: 204 and every other status fail. Retries (`retries` of them, after the
first attempt) happen only where a later attempt may fare better: connection errors, timeouts,
429 and 5xx except 501; they wait a capped, jittered exponential backoff.

An attempt's timeout bounds the whole exchange, body included, and the body is read only up to
`MAX_BODY_BYTES` (the rest is never downloaded: the connection is closed). Messages show the
URL with its credentials masked (`canary.core.redaction`).
"""

from __future__ import annotations

import asyncio
import json
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import aiohttp

from canary.core.redaction import redact_text, redact_url
from canary.http.bodies import read_at_most

DEFAULT_TIMEOUT_SECONDS: Final = 10.0
# Read at most this much of a response; the rest is never downloaded.
MAX_BODY_BYTES: Final = 64 * 1024
# How much of a body a message quotes (messages end up in events and alerts).
BODY_EXCERPT_CHARS: Final = 512
MESSAGE_LIMIT: Final = 1000

SUCCESS_STATUSES: Final = frozenset({200, 201, 202})
_SCHEMES: Final = frozenset({"http", "https"})
_USER_AGENT: Final = "canary-controller-webhook"


@dataclass(frozen=True)
class WebhookSpec:
    """One `analysis.webhooks[]` entry. `type` is Flagger's hook type (`pre-rollout`, ...)."""

    name: str
    url: str
    type: str = "rollout"
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    retries: int = 0
    metadata: Mapping[str, str] = field(default_factory=dict)
    disable_tls: bool = False


@dataclass(frozen=True)
class WebhookPayload:
    """What a hook receives: Flagger's `CanaryWebhookPayload`.

    `checksum` identifies the revision under test, so a receiver can deduplicate the
    at-least-once deliveries (reliability.md §2.3).
    """

    name: str
    namespace: str
    phase: str
    checksum: str = ""
    type: str = "rollout"
    metadata: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON document: name, namespace, phase, checksum, type; metadata when not empty."""
        document: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "phase": self.phase,
            "checksum": self.checksum,
            "type": self.type,
        }
        if self.metadata:
            document["metadata"] = {str(k): str(v) for k, v in self.metadata.items()}
        return document


@dataclass(frozen=True)
class WebhookResult:
    """How a call ended. `status` is the last HTTP status (None when no response came);
    `attempts` counts requests sent; `duration` is seconds, backoff included."""

    ok: bool
    status: int | None
    message: str
    attempts: int
    duration: float


@dataclass(frozen=True)
class Backoff:
    """Delay before retry n (1-based): min(maximum, initial * 2**(n-1)), less up to `jitter`
    of it at random (so many canaries retrying together spread out)."""

    initial: float = 1.0
    maximum: float = 10.0
    jitter: float = 0.2

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number `retry` (1 for the first retry)."""
        if retry < 1:
            raise ValueError(f"retry numbers start at 1, got {retry}")
        base = min(self.maximum, self.initial * 2 ** min(retry - 1, 62))
        return float(base * (1.0 - self.jitter * rand()))


DEFAULT_BACKOFF: Final = Backoff()


def bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to at most `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def excerpt(body: bytes, *, truncated: bool = False) -> str:
    """A short, printable quote of a response body."""
    text = body.decode("utf-8", errors="replace").strip()
    text = " ".join(text.split())
    if len(text) > BODY_EXCERPT_CHARS:
        text = text[: BODY_EXCERPT_CHARS - 3] + "..."
    elif truncated:
        text += "..."
    return text


def is_retryable_status(status: int) -> bool:
    """429 and 5xx except 501, as go-retryablehttp's default policy."""
    return status == 429 or (500 <= status <= 599 and status != 501)


@dataclass(frozen=True)
class _Attempt:
    ok: bool
    status: int | None
    message: str
    retryable: bool


def _failed(status: int | None, message: str, *, retryable: bool) -> _Attempt:
    return _Attempt(ok=False, status=status, message=message, retryable=retryable)


def _judge(status: int, body: bytes, *, truncated: bool, location: str | None) -> _Attempt:
    quoted = excerpt(body, truncated=truncated)
    if status in SUCCESS_STATUSES:
        message = f"HTTP {status}" + (f": {quoted}" if quoted else "")
        return _Attempt(ok=True, status=status, message=message, retryable=False)
    if 300 <= status <= 399:
        target = f" to {location}" if location else " without a Location"
        return _failed(status, f"HTTP {status}: redirect{target} not followed", retryable=False)
    detail = f": {quoted}" if quoted else " with an empty body"
    if truncated:
        detail += f" (body cut at {MAX_BODY_BYTES} bytes)"
    return _failed(status, f"HTTP {status}{detail}", retryable=is_retryable_status(status))


def _connection_reason(error: BaseException) -> str:  # noqa: PLR0911 - one answer per cause
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return f"TLS certificate verification failed: {error.certificate_error}"
    if isinstance(error, aiohttp.ClientSSLError):
        return f"TLS error: {error}"
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup failed: {error.os_error}"
    if isinstance(error, aiohttp.ClientConnectorError):
        cause = error.os_error
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        return f"cannot connect: {cause.strerror or cause}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without a response"
    return str(error) or type(error).__name__


async def _attempt(
    hook: WebhookSpec, document: dict[str, Any], session: aiohttp.ClientSession
) -> _Attempt:
    ssl_option: bool | ssl.SSLContext = not hook.disable_tls
    try:
        async with (
            asyncio.timeout(hook.timeout_seconds),
            session.post(
                hook.url,
                json=document,
                allow_redirects=False,
                ssl=ssl_option,
                headers={"User-Agent": _USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None),
            ) as response,
        ):
            body = await read_at_most(response.content, MAX_BODY_BYTES)
            location = response.headers.get("Location")
            return _judge(
                response.status,
                body.data,
                truncated=body.truncated,
                location=redact_url(location) if location else None,
            )
    except TimeoutError:
        return _failed(
            None, f"no answer within {hook.timeout_seconds:g} s (timeout)", retryable=True
        )
    except aiohttp.ClientSSLError as error:
        return _failed(None, _connection_reason(error), retryable=False)
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as error:
        return _failed(None, _connection_reason(error), retryable=True)
    except aiohttp.ClientError as error:
        return _failed(None, f"request failed: {error}", retryable=False)


def _refusal(hook: WebhookSpec) -> str | None:
    """Why `hook` cannot be called at all, or None."""
    shown = redact_url(hook.url)
    try:
        parts = urlsplit(hook.url)
    except ValueError as error:
        return f"invalid URL {shown!r}: {error}"
    if parts.scheme not in _SCHEMES:
        return f"URL scheme {parts.scheme!r} is not allowed (only http and https): {shown!r}"
    if not parts.hostname:
        return f"URL {shown!r} has no host"
    if hook.timeout_seconds <= 0:
        return f"timeout must be positive, got {hook.timeout_seconds:g} s"
    return None


async def call_webhook(
    hook: WebhookSpec,
    payload: WebhookPayload,
    *,
    session: aiohttp.ClientSession,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> WebhookResult:
    """POST `payload` to `hook.url`; the outcome, never an exception for the remote's faults.

    The session is the caller's (one per controller, with no cookies or credentials of its own).
    """
    started = time.monotonic()
    refusal = _refusal(hook)
    if refusal is not None:
        return WebhookResult(
            ok=False,
            status=None,
            message=f"webhook {hook.name}: {refusal}",
            attempts=0,
            duration=0.0,
        )
    document = payload.to_json()
    attempts = 0
    retries = max(0, hook.retries)
    while True:
        attempts += 1
        try:
            outcome = await _attempt(hook, document, session)
        except Exception as error:  # noqa: BLE001 - a bug must not crash the caller's tick
            outcome = _failed(None, f"internal error: {error!r}", retryable=False)
        if outcome.ok or not outcome.retryable or attempts > retries:
            break
        await asyncio.sleep(backoff.delay(attempts))
    message = redact_text(outcome.message)  # an error may quote the URL it was given
    if not outcome.ok and outcome.retryable and attempts > 1:
        message = f"giving up after {attempts} attempts: {message}"
    return WebhookResult(
        ok=outcome.ok,
        status=outcome.status,
        message=bounded(f"webhook {hook.name} ({redact_url(hook.url)}): {message}"),
        attempts=attempts,
        duration=time.monotonic() - started,
    )


def payload_bytes(payload: WebhookPayload) -> bytes:
    """The payload as sent (compact JSON), for logs and tests."""
    return json.dumps(payload.to_json(), separators=(",", ":")).encode()
