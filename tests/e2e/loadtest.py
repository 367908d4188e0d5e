"""Fixtures for releases that run a load test: the project's load tester as its own process,
and a local HTTP target that records what it receives (standing for the canary's pods, or an
alert receiver). Registered for every e2e test by conftest.py.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from canary.sandbox import processes
from canary.sandbox.ports import free_ports
from canary.sandbox.state import SandboxState
from tests.integration.local_http import serving
from tests.integration.waiting import until_serving


@dataclass
class Received:
    """What the load test's target saw."""

    url: str = ""
    requests: list[tuple[str, str, str, bytes]] = field(default_factory=list)


@pytest.fixture
async def load_target() -> AsyncIterator[Received]:
    """A local HTTP server standing for the canary's pods: records (method, Host, X-Canary,
    body) of every request."""
    received = Received()

    async def handle(request: web.Request) -> web.StreamResponse:
        headers = request.headers
        body = await request.read()
        received.requests.append(
            (request.method, headers.get("Host", ""), headers.get("X-Canary", ""), body)
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serving(app) as url:
        received.url = f"{url}/"
        yield received


@pytest.fixture
async def loadtester(sandbox: SandboxState, namespace: str, tmp_path: Path) -> AsyncIterator[str]:
    """The project's load tester as its own process; its URL."""
    (port,) = free_ports(1)
    argv = [
        sys.executable,
        "-m",
        "canary.hooks.loadtester",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--kubeconfig={sandbox.kubeconfig}",
        f"--namespace={namespace}",
    ]
    log = tmp_path / "loadtester.log"
    process = processes.start("loadtester", argv, log=log, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        await until_serving(
            f"{url}/healthz",
            within=30,
            what="the load tester",
            exited=lambda: None if processes.is_running(process) else log.read_text(),
        )
        yield url
    finally:
        await asyncio.to_thread(processes.stop, process)
