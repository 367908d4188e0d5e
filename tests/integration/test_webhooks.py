"""call_webhook against a real recording aiohttp receiver on 127.0.0.1.

The receiver answers by path: /status/<code>, /redirect (302 to /landing, which records if it is
ever reached), /hang (answers long after any timeout), /large (a body far over the cap), /flaky
(503 until its N-th request, then 200).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from canary.api.canary import Canary
from canary.controller.hooks import HookRunner
from canary.hooks import Backoff, WebhookPayload, WebhookSpec, call_webhook
from canary.hooks.webhooks import MAX_BODY_BYTES
from canary.sandbox.pki import create_pki
from tests.integration.cluster_services import cluster_services
from tests.integration.local_http import free_port, serving

pytestmark = pytest.mark.integration

FAST = Backoff(initial=0.05, maximum=0.2, jitter=0.1)
PAYLOAD = WebhookPayload(
    name="podinfo",
    namespace="test",
    phase="Progressing",
    checksum="c0ffee",
    type="pre-rollout",
    metadata={"cmd": "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"},
)


@dataclass
class Receiver:
    url: str
    requests: list[tuple[str, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    flaky_failures: int = 2

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(url="")

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        document = json.loads(raw) if raw else {}
        state.requests.append((request.path, document, dict(request.headers)))
        path = request.path
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return web.Response(status=code, text="" if code == 204 else f"answer {code}")
        if path == "/redirect":
            raise web.HTTPFound(location=f"{state.url}/landing")
        if path == "/hang":
            await asyncio.sleep(30)
            return web.Response(text="too late")
        if path == "/large":
            return web.Response(status=500, body=b"E" * (4 * MAX_BODY_BYTES))
        if path == "/flaky":
            if state.paths().count("/flaky") <= state.flaky_failures:
                return web.Response(status=503, text="overloaded")
            return web.Response(text="finally")
        return web.Response(text="landed")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serving(app) as url:
        state.url = url
        yield state


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def _hook(url: str, **kwargs: Any) -> WebhookSpec:
    return WebhookSpec(name="check", url=url, type="pre-rollout", **kwargs)


@pytest.mark.parametrize("code", [200, 201, 202])
async def test_200_201_and_202_pass_and_the_payload_arrives_as_flagger_sends_it(
    receiver: Receiver, session: aiohttp.ClientSession, code: int
) -> None:
    result = await call_webhook(_hook(f"{receiver.url}/status/{code}"), PAYLOAD, session=session)
    assert result.ok
    assert (result.status, result.attempts) == (code, 1)
    assert (
        result.message
        == f"webhook check ({receiver.url}/status/{code}): HTTP {code}: answer {code}"
    )
    [(_, document, headers)] = receiver.requests
    assert document == {
        "name": "podinfo",
        "namespace": "test",
        "phase": "Progressing",
        "checksum": "c0ffee",
        "type": "pre-rollout",
        "metadata": {"cmd": "hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/"},
    }
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("code", "detail"), [(204, "HTTP 204 with an empty body"), (500, "HTTP 500: answer 500")]
)
async def test_204_and_500_fail_naming_the_status_and_body(
    receiver: Receiver, session: aiohttp.ClientSession, code: int, detail: str
) -> None:
    url = f"{receiver.url}/status/{code}"
    result = await call_webhook(_hook(url), PAYLOAD, session=session)
    assert not result.ok
    assert (result.status, result.attempts) == (code, 1)
    assert result.message == f"webhook check ({url}): {detail}"


async def test_a_redirect_is_not_followed(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    url = f"{receiver.url}/redirect"
    result = await call_webhook(_hook(url, retries=3), PAYLOAD, session=session)
    assert not result.ok
    assert (result.status, result.attempts) == (302, 1)
    assert result.message == (
        f"webhook check ({url}): HTTP 302: redirect to {receiver.url}/landing not followed"
    )
    assert receiver.paths() == ["/redirect"]


async def test_a_hang_beyond_the_timeout_fails_with_a_timeout_message(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    url = f"{receiver.url}/hang"
    result = await call_webhook(
        _hook(url, timeout_seconds=0.5, retries=1), PAYLOAD, session=session, backoff=FAST
    )
    assert not result.ok
    assert result.status is None
    assert result.attempts == 2
    assert result.message == (
        f"webhook check ({url}): giving up after 2 attempts: no answer within 0.5 s (timeout)"
    )
    assert result.duration >= 1.0  # two attempts, each allowed its whole 0.5 s timeout


async def test_a_large_body_is_capped_and_excerpted(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    result = await call_webhook(_hook(f"{receiver.url}/large"), PAYLOAD, session=session)
    assert not result.ok
    assert result.status == 500
    assert len(result.message) <= 1000
    assert "E" * 100 in result.message
    assert result.message.endswith(f"... (body cut at {MAX_BODY_BYTES} bytes)")


async def test_503_is_retried_with_backoff_until_success(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    url = f"{receiver.url}/flaky"
    result = await call_webhook(_hook(url, retries=3), PAYLOAD, session=session, backoff=FAST)
    assert result.ok
    assert (result.status, result.attempts) == (200, 3)
    assert result.message == f"webhook check ({url}): HTTP 200: finally"
    assert receiver.paths() == ["/flaky"] * 3


async def test_retries_exhausted_on_503_say_so(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    receiver.flaky_failures = 10
    url = f"{receiver.url}/flaky"
    result = await call_webhook(_hook(url, retries=2), PAYLOAD, session=session, backoff=FAST)
    assert not result.ok
    assert (result.status, result.attempts) == (503, 3)
    assert (
        result.message == f"webhook check ({url}): giving up after 3 attempts: HTTP 503: overloaded"
    )


async def test_501_and_4xx_are_not_retried(
    receiver: Receiver, session: aiohttp.ClientSession
) -> None:
    for code in (501, 400):
        hook = _hook(f"{receiver.url}/status/{code}", retries=3)
        result = await call_webhook(hook, PAYLOAD, session=session, backoff=FAST)
        assert (result.ok, result.status, result.attempts) == (False, code, 1)


async def test_a_refused_connection_is_retried_and_named(session: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    result = await call_webhook(_hook(url, retries=1), PAYLOAD, session=session, backoff=FAST)
    assert (result.ok, result.status, result.attempts) == (False, None, 2)
    assert (
        result.message == f"webhook check ({url}): giving up after 2 attempts: connection refused"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "URL scheme 'file' is not allowed (only http and https)"),
        ("gopher://127.0.0.1/", "URL scheme 'gopher' is not allowed (only http and https)"),
        ("http:///nohost", "has no host"),
    ],
)
async def test_urls_that_are_not_http_are_refused_without_a_request(
    session: aiohttp.ClientSession, url: str, reason: str
) -> None:
    result = await call_webhook(_hook(url), PAYLOAD, session=session)
    assert (result.ok, result.status, result.attempts) == (False, None, 0)
    assert reason in result.message


async def test_tls_is_verified_unless_the_webhook_opts_out(
    session: aiohttp.ClientSession, tmp_path: Path
) -> None:
    # A receiver whose certificate (for 127.0.0.1) is signed by a CA nobody trusts.
    pki = create_pki(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.serving_cert, pki.serving_key)
    seen: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        return web.Response(text="approved")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"https://127.0.0.1:{port}/gate"
    try:
        verified = await call_webhook(_hook(url), PAYLOAD, session=session)
        assert not verified.ok
        assert "TLS certificate verification failed" in verified.message, verified.message
        assert seen == [], "no request may reach a server whose certificate was refused"
        trusted = await call_webhook(_hook(url, disable_tls=True), PAYLOAD, session=session)
        assert trusted.ok, trusted.message
        assert seen == ["/gate"]
    finally:
        await runner.cleanup()


async def test_the_controllers_webhooks_go_through_http_proxy_as_flaggers_do(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A hook URL only the proxy can resolve (as a cluster's Service names are) is reached
    through HTTP_PROXY, as Flagger's Go client reaches it; NO_PROXY is honoured too."""
    canary = Canary.model_validate(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": "test"},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 9898},
                "analysis": {
                    "interval": "1m",
                    "iterations": 1,
                    "webhooks": [
                        {
                            "name": "acceptance-test",
                            "type": "pre-rollout",
                            "url": "http://flagger-loadtester.test/",
                            "metadata": {"type": "bash", "cmd": "true"},
                        }
                    ],
                },
            },
        }
    )
    async with cluster_services("http://127.0.0.1:9") as services:
        monkeypatch.setenv("HTTP_PROXY", services.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        runner = HookRunner()
        try:
            [(name, result)] = await runner.call(
                canary, "pre-rollout", phase="Progressing", checksum="c0ffee"
            )
        finally:
            await runner.close()
    assert (name, result.ok, result.status) == ("acceptance-test", True, 200), result.message
    [call] = services.calls
    assert (call.host, call.path, call.hook_type) == ("flagger-loadtester.test", "/", "pre-rollout")
