"""Alerts sent over real HTTP to a receiver on 127.0.0.1: what each provider type POSTs, with which
headers, and that a failing, redirecting, hanging or absent receiver is reported, never raised."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, get_args

import aiohttp
import pytest
from aiohttp import web

from canary.api import Phase
from canary.api.alertprovider import AlertProviderType
from canary.notify import Alert, ProviderSettings, SendResult, payload, send
from tests.integration.local_http import free_port, serving

ALERT = Alert(
    canary="podinfo",
    namespace="test",
    cluster="sandbox",
    phase=Phase.FAILED,
    severity="error",
    message="Failed checks threshold reached 2",
    fields=(("Failed check", "error-rate"), ("Value", "4.2"), ("Range", "max 1")),
)


@dataclass(frozen=True)
class Received:
    path: str
    host: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    base: str
    release: asyncio.Event
    received: list[Received] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    release = asyncio.Event()
    app = web.Application()
    state = Receiver(base="", release=release)

    async def record(request: web.Request) -> None:
        state.received.append(
            Received(
                path=request.path,
                host=request.host,
                headers=dict(request.headers),
                body=json.loads(await request.read()),
            )
        )

    async def ok(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text="ok")

    async def fail(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(status=500, text="internal error:\n  the database is down\n")

    async def huge_error(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(status=503, body=b"x" * (4 << 20))

    async def moved(request: web.Request) -> web.Response:
        await record(request)
        raise web.HTTPFound("/ok/moved")

    async def hang(request: web.Request) -> web.Response:
        await record(request)
        await release.wait()
        return web.Response(text="too late")

    app.router.add_post("/ok/{kind}", ok)
    app.router.add_post("/fail", fail)
    app.router.add_post("/huge-error", huge_error)
    app.router.add_post("/moved", moved)
    app.router.add_post("/hang", hang)
    app.router.add_post("/proxied", ok)  # the proxy test's target, reached through the receiver
    async with serving(app) as url:
        state.base = url
        try:
            yield state
        finally:
            release.set()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _settings(kind: AlertProviderType, address: str, **changes: Any) -> ProviderSettings:
    return ProviderSettings(type=kind, address=address, **changes)


@pytest.mark.parametrize("kind", get_args(AlertProviderType))
async def test_each_provider_type_posts_its_json(
    receiver: Receiver, session: aiohttp.ClientSession, kind: AlertProviderType
) -> None:
    result = await send(_settings(kind, f"{receiver.base}/ok/{kind}"), ALERT, session=session)
    assert result == SendResult(ok=True, status=200, message="sent (HTTP 200)")
    [request] = receiver.received
    assert request.path == f"/ok/{kind}"
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers
    assert request.body == payload(kind, ALERT)
    text = json.dumps(request.body)
    for expected in ("podinfo", "test", "sandbox", "Failed", "error-rate", "4.2", "max 1"):
        assert expected in text, expected


async def test_a_token_is_sent_as_a_bearer_header_and_settings_reach_slack(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    token = "-".join(("xoxb", "not", "real"))
    settings = _settings(
        "slack", f"{receiver.base}/ok/slack", token=token, channel="releases", username="deployer"
    )
    assert (await send(settings, ALERT, session=session)).ok
    [request] = receiver.received
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert (request.body["channel"], request.body["username"]) == ("releases", "deployer")
    assert request.body["attachments"][0]["color"] == "danger"


async def test_a_proxy_is_used_when_set(receiver: Receiver, session: aiohttp.ClientSession) -> None:
    settings = _settings("webhook", "http://alerts.example.invalid/proxied", proxy=receiver.base)
    assert (await send(settings, ALERT, session=session)).ok
    [request] = receiver.received
    assert (request.host, request.path) == ("alerts.example.invalid", "/proxied")
    assert request.body["canary"] == "podinfo"


async def test_an_error_answer_is_reported_with_an_excerpt(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    result = await send(_settings("msteams", f"{receiver.base}/fail"), ALERT, session=session)
    assert result == SendResult(
        ok=False, status=500, message="HTTP 500: internal error: the database is down"
    )


async def test_a_huge_error_answer_is_read_only_in_part(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    result = await send(_settings("gchat", f"{receiver.base}/huge-error"), ALERT, session=session)
    assert (result.ok, result.status) == (False, 503)
    assert result.message == "HTTP 503: " + "x" * 199 + "…"


async def test_a_redirect_is_not_followed(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    result = await send(_settings("discord", f"{receiver.base}/moved"), ALERT, session=session)
    assert result == SendResult(ok=False, status=302, message="HTTP 302: redirect not followed")
    assert [request.path for request in receiver.received] == ["/moved"]


async def test_a_receiver_that_hangs_is_reported_after_the_timeout(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    settings = _settings("slack", f"{receiver.base}/hang", timeout=0.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await send(settings, ALERT, session=session)
    assert loop.time() - started < 3
    assert result == SendResult(ok=False, message="no answer within 0.5s")
    assert [request.path for request in receiver.received] == ["/hang"]


async def test_no_receiver_at_all_is_reported_without_the_secret_path(
    session: aiohttp.ClientSession,
) -> None:
    port = free_port()
    address = f"http://127.0.0.1:{port}/services/T000/B000/SECRET"
    result = await send(_settings("slack", address), ALERT, session=session)
    assert result == SendResult(ok=False, message=f"cannot connect to 127.0.0.1:{port}")
    assert "SECRET" not in result.message
    invalid = await send(_settings("webhook", "http://[::1/x"), ALERT, session=session)
    assert invalid == SendResult(ok=False, message="the address is not a valid URL")


async def test_credentials_in_urls_the_alert_quotes_are_masked(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    leaky = dataclasses.replace(
        ALERT,
        message="webhook smoke (https://admin:hunter2@hooks.example/x?token=abc): HTTP 401",
        fields=(("Webhook", "https://admin:hunter2@hooks.example/x"),),
    )
    result = await send(_settings("slack", f"{receiver.base}/ok/slack"), leaky, session=session)
    assert result.ok, result
    [request] = receiver.received
    text = json.dumps(request.body)
    assert "https://admin:***@hooks.example/x?token=***" in text
    assert "hunter2" not in text
    assert "abc" not in text
