"""The load tester as a real process against the sandbox's API server.

It generates load against a counting aiohttp target on 127.0.0.1, serves the gates from a
ConfigMap, and keeps them across a SIGKILL and between replicas.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from canary.hooks.loadtester.gates import CONFIG_MAP_NAME
from canary.kube import resources
from tests.integration.local_http import free_port, serving
from tests.integration.waiting import eventually, until_serving

pytestmark = pytest.mark.integration

CANARY = {"name": "podinfo", "namespace": "test", "phase": "Progressing", "checksum": "c"}


@dataclass
class LoadTester:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    async def logged(self, text: str, *, within: float = 10.0) -> None:
        """Until the load tester's output contains `text`."""
        await eventually(
            partial(asyncio.to_thread, self.log.read_text),
            until=lambda output: text in output,
            within=within,
            what=f"{text!r} in the load tester's output",
        )


Starter = Callable[..., Awaitable[LoadTester]]


def _spawn(
    log_path: Path, port: int, kubeconfig: Path, namespace: str, extra: Sequence[str]
) -> subprocess.Popen[bytes]:
    argv = [
        sys.executable,
        "-m",
        "canary.hooks.loadtester",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--kubeconfig",
        str(kubeconfig),
        "--namespace",
        namespace,
        *extra,
    ]
    with log_path.open("wb") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


@pytest.fixture
async def start_loadtester(
    kubeconfig: Path, namespace: str, tmp_path: Path
) -> AsyncIterator[Starter]:
    """Start load tester processes (each on a new port); all are killed at the end."""
    started: list[subprocess.Popen[bytes]] = []

    async def start(*extra: str) -> LoadTester:
        port = free_port()
        log_path = tmp_path / f"loadtester-{port}.log"
        process = _spawn(log_path, port, kubeconfig, namespace, extra)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        await until_serving(
            f"{url}/healthz",
            within=30,
            what="the load tester",
            exited=lambda: None if process.poll() is None else log_path.read_text(),
        )
        return LoadTester(url, process, log_path)

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class Seen:
    """One request the target received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Target:
    url: str
    hits: list[float] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    state = Target(url="")

    async def handle(request: web.Request) -> web.StreamResponse:
        state.hits.append(time.monotonic())
        body = await request.read()
        state.seen.append(Seen(request.method, request.path, dict(request.headers), body))
        if request.path == "/redirect":
            raise web.HTTPFound("/final")
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serving(app) as url:
        state.url = f"{url}/"
        yield state


async def _post(url: str, document: dict[str, Any]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=document, timeout=aiohttp.ClientTimeout(total=30)) as response,
    ):
        return response.status, await response.text()


async def _post_json(url: str, document: dict[str, Any]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=document, timeout=aiohttp.ClientTimeout(total=30)) as response,
    ):
        return response.status, await response.json()


async def test_a_blocking_run_sends_the_asked_rate_and_reports_it(
    start_loadtester: Starter, target: Target
) -> None:
    tester = await start_loadtester()
    metadata = {
        "url": target.url,
        "duration": "2s",
        "rps": "20",
        "concurrency": "4",
        "blocking": "true",
    }
    status, report = await _post_json(f"{tester.url}/", {**CANARY, "metadata": metadata})
    assert status == 200
    assert 36 <= len(target.hits) <= 41, len(target.hits)
    assert report["requests"] == len(target.hits)
    assert report["errors"] == 0
    assert report["statusCodes"] == {"200": len(target.hits)}
    assert set(report["latencyMs"]) == {"p50", "p90", "p99"}
    assert (
        0 < report["latencyMs"]["p50"] <= report["latencyMs"]["p90"] <= report["latencyMs"]["p99"]
    )
    assert report["durationSeconds"] >= 1.8  # the load ran for (about) the 2 s asked


async def test_a_hey_command_runs_in_the_background(
    start_loadtester: Starter, target: Target
) -> None:
    tester = await start_loadtester()
    command = f"hey -z 2s -q 10 -c 2 {target.url}"
    began = time.monotonic()
    status, text = await _post(f"{tester.url}/", {**CANARY, "metadata": {"cmd": command}})
    assert status == 200
    assert time.monotonic() - began < 1.0
    assert f"started: {command}" in text
    # The same task for the same canary is not started twice while it runs.
    status, text = await _post(f"{tester.url}/", {**CANARY, "metadata": {"cmd": command}})
    assert (status, f"already running: {command}" in text) == (200, True)
    await tester.logged(f"finished {command}")
    assert 36 <= len(target.hits) <= 41, len(target.hits)


async def test_shell_commands_are_refused_unless_allowed(start_loadtester: Starter) -> None:
    tester = await start_loadtester()
    document = {**CANARY, "metadata": {"type": "bash", "cmd": "echo hello"}}
    status, text = await _post(f"{tester.url}/", document)
    assert status == 403
    assert "running shell commands is disabled" in text
    allowed = await start_loadtester("--allow-commands")
    status, report = await _post_json(f"{allowed.url}/", document)
    assert (status, report) == (200, {"exitCode": 0, "output": "hello\n"})


async def test_bad_tasks_get_400(start_loadtester: Starter) -> None:
    tester = await start_loadtester()
    assert await _post(f"{tester.url}/", CANARY) == (400, "metadata not found in payload")
    status, text = await _post(f"{tester.url}/", {**CANARY, "metadata": {"cmd": "hey -y 1 u"}})
    assert (status, text) == (400, "unknown hey flag -y")


async def test_flaggers_gateway_api_hey_command_sends_its_host_headers_method_and_body(
    start_loadtester: Starter, target: Target
) -> None:
    """Flagger's Gateway API scenarios pass -host (answered 400 before); every request carries
    what the command line asks for."""
    tester = await start_loadtester()
    command = (
        "hey -n 4 -c 1 -host app.example.com -H 'X-Canary: insider' -m post -d 'hello'"
        f" -a user:secret -U tester -disable-keepalive -h2 -cpus 1 -o csv {target.url}api"
    )
    status, text = await _post(f"{tester.url}/", {**CANARY, "metadata": {"cmd": command}})
    assert (status, f"started: {command}" in text) == (200, True)
    await tester.logged(f"finished {command}")
    assert len(target.seen) == 4
    for seen in target.seen:
        assert (seen.method, seen.path, seen.body) == ("POST", "/api", b"hello")
        assert seen.headers["Host"] == "app.example.com"
        assert seen.headers["X-Canary"] == "insider"
        assert seen.headers["Authorization"] == "Basic dXNlcjpzZWNyZXQ="
        assert seen.headers["User-Agent"] == "tester"
        assert seen.headers["Connection"] == "close"  # -disable-keepalive


async def test_redirects_are_followed_unless_disabled_as_in_hey(
    start_loadtester: Starter, target: Target
) -> None:
    tester = await start_loadtester()
    for command in (
        f"hey -n 1 -c 1 {target.url}redirect",
        f"hey -n 1 -c 1 -disable-redirects {target.url}redirect",
    ):
        status, _ = await _post(f"{tester.url}/", {**CANARY, "metadata": {"cmd": command}})
        assert status == 200
        await tester.logged(f"finished {command}")
    assert [seen.path for seen in target.seen] == ["/redirect", "/final", "/redirect"]


async def _gate(tester: LoadTester, path: str, name: str = "podinfo") -> int:
    status, _ = await _post(f"{tester.url}{path}", {**CANARY, "name": name})
    return status


async def test_gates_open_close_and_check(
    start_loadtester: Starter, api: ApiClient, namespace: str
) -> None:
    tester = await start_loadtester()
    assert await _gate(tester, "/gate/approve") == 200
    assert await _gate(tester, "/gate/halt") == 403
    for kind in ("gate", "rollback"):
        assert await _gate(tester, f"/{kind}/check") == 403  # closed by default
        assert await _gate(tester, f"/{kind}/open") == 202
        assert await _gate(tester, f"/{kind}/check") == 200
        assert await _gate(tester, f"/{kind}/check", name="other") == 403
        assert await _gate(tester, f"/{kind}/close") == 202
        assert await _gate(tester, f"/{kind}/check") == 403
    assert await _gate(tester, "/gate/open") == 202
    config_map = await resources.get(
        api, resources.CONFIG_MAP, CONFIG_MAP_NAME, namespace=namespace
    )
    assert config_map is not None
    assert config_map["data"] == {"gate.test.podinfo": "open"}
    assert await _post(f"{tester.url}/gate/check", {"name": "x"}) == (
        400,
        "the payload needs the canary's name and namespace",
    )


async def test_a_gate_survives_sigkill_and_replicas_agree(start_loadtester: Starter) -> None:
    first = await start_loadtester()
    second = await start_loadtester()
    assert await _gate(first, "/gate/open") == 202
    assert await _gate(second, "/gate/check") == 200
    assert await _gate(first, "/rollback/open", name="other") == 202
    first.process.send_signal(signal.SIGKILL)
    assert first.process.wait(timeout=10) == -signal.SIGKILL
    restarted = await start_loadtester()
    assert await _gate(restarted, "/gate/check") == 200
    assert await _gate(restarted, "/rollback/check", name="other") == 200
    assert await _gate(second, "/gate/close") == 202
    assert await _gate(restarted, "/gate/check") == 403


async def test_concurrent_writers_lose_no_gate(start_loadtester: Starter) -> None:
    first = await start_loadtester()
    second = await start_loadtester()
    names = [f"app-{i}" for i in range(8)]
    statuses = await asyncio.gather(
        *(_gate(first if i % 2 else second, "/gate/open", name=n) for i, n in enumerate(names))
    )
    assert statuses == [202] * len(names)
    checks = await asyncio.gather(*(_gate(first, "/gate/check", name=n) for n in names))
    assert checks == [200] * len(names)
