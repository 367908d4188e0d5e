"""The API client's HTTP/2 transport against a real HTTP/2 server on 127.0.0.1 (`h2server`):
one connection for every request, streams reset when given up, flow control, a dead peer
found by PING, GOAWAY, and the fall back to HTTP/1.1."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration
from kubernetes_asyncio.client.exceptions import ApiException

from canary.kube import h2connection
from canary.kube.client import speak_http2
from canary.kube.errors import Transient
from canary.kube.h2connection import ConnectionLost
from canary.kube.resources import _request
from canary.kube.transport import Http2RestClient, StreamedAnswer
from canary.sandbox.pki import create_pki
from tests.unit.kube.h2server import H2Server, h2_server


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[H2Server]:
    async with h2_server(tmp_path / "pki") as state:
        yield state


@pytest.fixture
async def api(server: H2Server) -> AsyncIterator[ApiClient]:
    configuration = Configuration(host=f"https://127.0.0.1:{server.port}")
    configuration.ssl_ca_cert = str(server.ca_cert)
    async with ApiClient(configuration) as client:
        await speak_http2(client)
        yield client


def _transport(api: ApiClient) -> Http2RestClient:
    assert isinstance(api.rest_client, Http2RestClient)
    return api.rest_client


async def _get(api: ApiClient, path: str) -> dict[str, object]:
    return await _request(api, "GET", path)


async def test_every_request_shares_one_connection(api: ApiClient, server: H2Server) -> None:
    answers = await asyncio.gather(*(_get(api, f"/echo/{n}") for n in range(40)))
    assert [answer["path"] for answer in answers] == [f"/echo/{n}" for n in range(40)]
    assert server.connections == 1
    assert _transport(api).speaks_http2


async def test_streams_beyond_the_servers_limit_go_out_on_another_connection(
    api: ApiClient, server: H2Server
) -> None:
    server.max_streams = 2
    held = [asyncio.create_task(_get(api, "/hold")) for _ in range(5)]
    async with asyncio.timeout(5):
        while len(server.held) < 5:  # all five reach the server: none waits for a slot
            server.held_changed.clear()
            await server.held_changed.wait()
    assert server.connections == 3
    assert len(_transport(api).connections) == 3
    server.answer_held()
    assert [answer["held"] for answer in await asyncio.gather(*held)] == [1, 3, 1, 3, 1]


async def test_a_body_larger_than_the_servers_window_arrives_whole(api: ApiClient) -> None:
    document = {"data": "x" * (1024 * 1024)}  # the server's window is 64 KiB
    answer = await _request(api, "PUT", "/echo/big", payload=document)
    assert answer["length"] == len(json.dumps(document))
    assert answer["method"] == "PUT"


async def test_an_error_status_is_an_api_exception_with_the_servers_body(api: ApiClient) -> None:
    with pytest.raises(ApiException) as raised:
        await api.call_api("/status/409", "GET", auth_settings=[], _return_http_data_only=True)
    assert raised.value.status == 409
    assert json.loads(raised.value.body or b"")["message"] == "said 409"


async def test_a_request_given_up_is_reset_and_the_connection_goes_on(
    api: ApiClient, server: H2Server
) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await _get(api, "/hold")
    answer = await _get(api, "/echo/after")  # the same connection, still usable
    assert answer["path"] == "/echo/after"
    assert server.resets == [server_stream_of(server, "/hold")]
    connection = _transport(api).connection
    assert connection is not None
    assert connection.open_streams == 0
    assert server.connections == 1


def server_stream_of(server: H2Server, path: str) -> int:
    """The stream id the server held for `path` (client streams are odd: 1, 3, 5...)."""
    position = [seen for _, _, seen in server.requests].index(path)
    return 2 * position + 1


async def test_a_streamed_answer_reads_lines_and_is_reset_when_released(
    api: ApiClient, server: H2Server
) -> None:
    server.lines = [b'{"a": ', b'1}\n{"b": 2}\n{"c"', b": 3}\n"]
    answer = await api.call_api(
        "/lines", "GET", auth_settings=[], _preload_content=False, _return_http_data_only=True
    )
    assert isinstance(answer, StreamedAnswer)
    lines = [json.loads(await answer.content.readline()) for _ in range(3)]
    assert lines == [{"a": 1}, {"b": 2}, {"c": 3}]
    answer.release()
    await _get(api, "/echo/sync")  # the reset has reached the server by the time this answers
    assert server.resets == [1]


async def test_a_pending_request_fails_when_the_peer_goes_silent(
    api: ApiClient, server: H2Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(h2connection, "READ_IDLE_SECONDS", 0.2)
    monkeypatch.setattr(h2connection, "PING_TIMEOUT_SECONDS", 0.2)
    await _get(api, "/echo/first")
    server.silent = True
    async with asyncio.timeout(5):  # 0.4 s of silence is the bound; this is the test's
        with pytest.raises(ConnectionLost, match="answered no PING"):
            await api.call_api("/echo/pending", "GET", auth_settings=[])
    server.silent = False
    answer = await _get(api, "/echo/next")
    assert answer["path"] == "/echo/next"
    assert server.connections == 2


async def test_after_a_goaway_unprocessed_requests_go_again_on_a_new_connection(
    api: ApiClient, server: H2Server
) -> None:
    held = asyncio.create_task(_get(api, "/hold"))  # stream 1, below the GOAWAY's last id
    async with asyncio.timeout(5):
        await server.holding.wait()
    answer = await _get(api, "/goaway-once")  # stream 3: refused, sent again
    assert answer["path"] == "/goaway-once"
    assert [number for number, _, _ in server.requests] == [1, 1, 2]
    # The connection is gone for stream 1 too (the h2 package reads nothing after a GOAWAY):
    # its caller gets the error the controller retries on, as after a lost connection.
    with pytest.raises(Transient, match="GOAWAY"):
        await held


async def test_without_h2_in_alpn_the_client_speaks_http_1_1(tmp_path: Path) -> None:
    pki = create_pki(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.serving_cert, pki.serving_key)

    async def handle(request: web.Request) -> web.Response:
        return web.json_response({"version": request.version.major, "path": request.path})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    configuration = Configuration(host=f"https://127.0.0.1:{port}")
    configuration.ssl_ca_cert = str(pki.ca_cert)
    try:
        async with ApiClient(configuration) as client:
            await speak_http2(client)
            assert await _get(client, "/version") == {"version": 1, "path": "/version"}
            assert not _transport(client).speaks_http2
            assert await _get(client, "/again") == {"version": 1, "path": "/again"}
    finally:
        await runner.cleanup()
