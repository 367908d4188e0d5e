"""POST one alert to one provider, and say how it went; never raise for the remote's faults.

An alert is a side channel: a chat service that is down, slow, or answers 500 must not stop or
slow a rollout, so `send` bounds the whole exchange with a timeout, follows no redirects (a
webhook that moved is a misconfiguration to report, not a hop to take with the token), reads at
most a small excerpt of an error body, and turns every failure into a `SendResult` for the caller
to log or put in an event. Only programming errors escape.

Webhook URLs of Slack, Teams, Discord and Google Chat are credentials (the secret is in the path),
so neither `ProviderSettings`' repr nor any result message contains the address or the token.

Reading the address and token from the provider's Secret is the controller's job; this module is
given them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

import aiohttp

from canary.api.alertprovider import AlertProviderSpec, AlertProviderType
from canary.core.redaction import redact_text
from canary.http.bodies import read_at_most
from canary.notify.alert import Alert
from canary.notify.payloads import DEFAULT_CHANNEL, DEFAULT_USERNAME, payload

DEFAULT_TIMEOUT: Final = 5.0
# How much of an error answer is read, and how much of it is kept in the result's message.
EXCERPT_BYTES: Final = 4096
EXCERPT_CHARS: Final = 200


@dataclass(frozen=True, kw_only=True)
class ProviderSettings:
    """Everything needed to send to one provider: its type, resolved address and credentials."""

    type: AlertProviderType
    address: str = field(repr=False)
    channel: str = DEFAULT_CHANNEL
    username: str = DEFAULT_USERNAME
    proxy: str | None = None
    token: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_spec(
        cls,
        spec: AlertProviderSpec,
        *,
        address: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ProviderSettings:
        """Settings for an AlertProvider's spec, with the defaults applied. `address` and
        `token` are what its Secret holds, when it has a `secretRef`."""
        resolved = address if address is not None else spec.address
        if not resolved:
            raise ValueError("the AlertProvider has no address: pass the one its Secret holds")
        return cls(
            type=spec.type,
            address=resolved,
            channel=spec.channel or DEFAULT_CHANNEL,
            username=spec.username or DEFAULT_USERNAME,
            proxy=spec.proxy,
            token=token or None,
            timeout=timeout,
        )


@dataclass(frozen=True, kw_only=True)
class SendResult:
    """How one delivery went. `status` is the HTTP status when there was an answer."""

    ok: bool
    message: str
    status: int | None = None


async def send(
    provider: ProviderSettings, alert: Alert, *, session: aiohttp.ClientSession
) -> SendResult:
    """POST `alert` as `provider`'s JSON to its address; the outcome, whatever the remote does.

    Credentials in URLs the alert's text quotes are masked before it leaves.
    """
    alert = dataclasses.replace(
        alert,
        message=redact_text(alert.message),
        fields=tuple((name, redact_text(value)) for name, value in alert.fields),
    )
    body = json.dumps(
        payload(provider.type, alert, channel=provider.channel, username=provider.username)
    ).encode()
    headers = {"Content-Type": "application/json"}
    if provider.token:
        headers["Authorization"] = f"Bearer {provider.token}"
    try:
        async with asyncio.timeout(provider.timeout):
            return await _post(provider, body, headers, session)
    except TimeoutError:
        return SendResult(ok=False, message=f"no answer within {provider.timeout:g}s")
    except aiohttp.ClientError as error:
        return SendResult(ok=False, message=_failure(error, provider))


async def _post(
    provider: ProviderSettings,
    body: bytes,
    headers: dict[str, str],
    session: aiohttp.ClientSession,
) -> SendResult:
    async with session.post(
        provider.address, data=body, headers=headers, proxy=provider.proxy, allow_redirects=False
    ) as response:
        status = response.status
        if 200 <= status < 300:
            return SendResult(ok=True, status=status, message=f"sent (HTTP {status})")
        if 300 <= status < 400:
            return SendResult(
                ok=False, status=status, message=f"HTTP {status}: redirect not followed"
            )
        excerpt = await _excerpt(response)
        return SendResult(
            ok=False, status=status, message=f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
        )


def _failure(error: aiohttp.ClientError, provider: ProviderSettings) -> str:
    """What went wrong, without the secrets of the address."""
    if isinstance(error, aiohttp.InvalidURL):
        return "the address is not a valid URL"
    if isinstance(error, aiohttp.ClientConnectorError):
        return f"cannot connect to {error.host}:{error.port}"
    return "request failed: " + _redact(str(error) or type(error).__name__, provider)


async def _excerpt(response: aiohttp.ClientResponse) -> str:
    """The start of the answer's body, on one line; never more than `EXCERPT_BYTES` read."""
    body = await read_at_most(response.content, EXCERPT_BYTES)
    text = " ".join(body.data.decode("utf-8", errors="replace").split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def _redact(text: str, provider: ProviderSettings) -> str:
    """`text` without the address's path and query (where webhook secrets live) or the token."""
    parts = urlsplit(provider.address)
    for secret in (provider.address, parts.path, parts.query, provider.token):
        if secret and len(secret) > 1:
            text = text.replace(secret, "…")
    return redact_text(text)
