"""A recording proxy between one controller process and the sandbox's API server.

A test that must know *which process* wrote to the cluster, and when, cannot learn it from the
objects (server-side apply's field manager is the same for every replica, by design) nor from
the controller's own logs (a process that misbehaves is the one whose word we cannot take).
So each process gets its own proxy: its kubeconfig points at a plain-HTTP port on 127.0.0.1,
and the proxy forwards every request to the real API server over TLS with the sandbox's admin
credentials, noting the method, path, status and the monotonic time the request arrived. The
process has no other way to reach the API server, so the proxy's record is complete.
Responses, watch streams included, are passed through chunk by chunk as they come.

A test may also hold one request at the proxy (`hold`): the process has sent it and waits for
the answer, the API server has not seen it yet, and the test acts in between (writes something
the held request will then conflict with) before letting it through. That makes a race between
the process and a user deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import aiohttp
import yaml
from aiohttp import web

from canary.sandbox.ports import free_ports
from canary.sandbox.state import SandboxState

READS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
# Hop-by-hop headers, and those aiohttp sets itself for the body it sends.
_DROPPED: Final = frozenset(
    {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
)


@dataclass(frozen=True)
class Request:
    at: float  # time.monotonic() when the request reached the proxy
    method: str
    path: str  # without the query

    @property
    def is_write(self) -> bool:
        return self.method not in READS


@dataclass
class Hold:
    """The first request that `matches` (method, path, body) is held until `release` is set;
    `arrived` is set when it reaches the proxy. Later matching requests pass at once."""

    matches: Callable[[str, str, bytes], bool]
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class RecordingProxy:
    """Forwards to the sandbox's API server and records every request (see the module)."""

    sandbox: SandboxState
    directory: Path
    requests: list[Request] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None
    _runner: web.AppRunner | None = None
    _upstream: str = ""
    _holds: list[Hold] = field(default_factory=list)

    def hold(self, matches: Callable[[str, str, bytes], bool]) -> Hold:
        """Hold the next request that `matches` (method, path, body) until the test releases
        it (see the module)."""
        held = Hold(matches)
        self._holds.append(held)
        return held

    def writes(self, *, since: float = float("-inf")) -> list[Request]:
        """The writes (POST, PUT, PATCH, DELETE) that arrived at or after `since`."""
        return [r for r in self.requests if r.is_write and r.at >= since]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Path]:
        """Serve until the block ends; yields the kubeconfig that points at the proxy."""
        self._upstream, tls = _upstream_of(Path(self.sandbox.kubeconfig))
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
            auto_decompress=False,
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        port = free_ports(1)[0]
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        try:
            yield self._kubeconfig(port)
        finally:
            await self._session.close()  # ends the watches still streaming through
            await self._runner.cleanup()

    def _kubeconfig(self, port: int) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"proxy-{port}.kubeconfig"
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
            "users": [{"name": "proxy", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
            "current-context": "proxy",
        }
        path.write_text(yaml.safe_dump(config))
        return path

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Request(time.monotonic(), request.method, request.path))
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _DROPPED}
        body = await request.read()
        for held in self._holds:
            if not held.arrived.is_set() and held.matches(request.method, request.path, body):
                held.arrived.set()
                await held.release.wait()
        try:
            upstream = await self._session.request(
                request.method,
                self._upstream + request.path_qs,
                headers=headers,
                data=body or None,
                allow_redirects=False,
            )
        except aiohttp.ClientError as error:
            return web.Response(status=502, text=f"proxy: {error}")
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for name, value in upstream.headers.items():
                if name.lower() not in _DROPPED:
                    response.headers.add(name, value)
            await response.prepare(request)
            with contextlib.suppress(aiohttp.ClientError, ConnectionError):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            with contextlib.suppress(ConnectionError, RuntimeError):
                await response.write_eof()
        return response


def _upstream_of(kubeconfig: Path) -> tuple[str, ssl.SSLContext]:
    """The API server's address in `kubeconfig`, and TLS with its CA and client certificate."""
    config = yaml.safe_load(kubeconfig.read_text())
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    tls = ssl.create_default_context(cafile=cluster["certificate-authority"])
    tls.load_cert_chain(user["client-certificate"], user["client-key"])
    return str(cluster["server"]).rstrip("/"), tls
