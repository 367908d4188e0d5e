"""A stand-in for the cluster's Service names, for tests that must leave a manifest's in-cluster
URLs as written (Flagger's tutorials): an HTTP forward proxy on 127.0.0.1 that a process is
pointed at with `HTTP_PROXY`, answering for the hosts a tutorial names.

- `flagger-loadtester.<namespace>`: a double of Flagger's load tester with its API: POST / runs
  nothing and answers as the load tester does when the command succeeds (200 for `type: bash`,
  202 for a load test started in the background), `/gate/approve` answers 200 "Approved",
  `/gate/halt` 403; every call's path and JSON payload is recorded.
- a host named `prometheus` or `flagger-prometheus` (any namespace, any port): forwarded to the
  sandbox's Prometheus, so a MetricTemplate's in-cluster `address:` reaches it unchanged.

Any other host answers 502 naming it. Only requests in absolute form (through the proxy) are
served; nothing here touches the cluster.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from aiohttp import web

from tests.integration.local_http import serving

LOADTESTER: Final = "flagger-loadtester"
PROMETHEUS_NAMES: Final = frozenset({"prometheus", "flagger-prometheus"})
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"}
)


@dataclass(frozen=True)
class HookCall:
    host: str
    path: str
    payload: dict[str, Any]

    @property
    def hook_type(self) -> str:
        return str(self.payload.get("type", ""))


@dataclass
class ClusterServices:
    """The proxy's URL (for HTTP_PROXY) and what the load tester double was asked."""

    prometheus_url: str
    url: str = ""
    calls: list[HookCall] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # hosts nothing stands in for

    def hook_types(self) -> set[str]:
        return {call.hook_type for call in self.calls}


def _service(host: str) -> str:
    """`flagger-loadtester` of `flagger-loadtester.test:80`."""
    return host.split(":", 1)[0].split(".", 1)[0]


async def _loadtester(services: ClusterServices, request: web.Request) -> web.Response:
    try:
        payload = json.loads(await request.read() or b"{}")
    except json.JSONDecodeError:
        return web.Response(status=400, text="payload is not JSON")
    services.calls.append(HookCall(request.host, request.rel_url.path, payload))
    path = request.rel_url.path.rstrip("/")
    if path == "/gate/approve":
        return web.Response(text="Approved")
    if path == "/gate/halt":
        return web.Response(status=403, text="Forbidden")
    metadata = payload.get("metadata") or {}
    if metadata.get("type") == "bash":
        return web.Response(text="ok")  # the command's output, had it run
    return web.Response(status=202, text="Accepted")  # a load test, started in the background


async def _prometheus(
    services: ClusterServices, session: aiohttp.ClientSession, request: web.Request
) -> web.Response:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
    async with session.request(
        request.method,
        services.prometheus_url.rstrip("/") + str(request.rel_url),
        headers=headers,
        data=await request.read(),
        allow_redirects=False,
    ) as answer:
        body = await answer.read()
        kept = {
            k: v
            for k, v in answer.headers.items()
            if k.lower() not in _HOP_BY_HOP | {"content-length", "content-encoding"}
        }
        return web.Response(status=answer.status, body=body, headers=kept)


@asynccontextmanager
async def cluster_services(prometheus_url: str) -> AsyncIterator[ClusterServices]:
    """Serve the proxy until the block ends."""
    services = ClusterServices(prometheus_url=prometheus_url)
    async with aiohttp.ClientSession() as session:

        async def handle(request: web.Request) -> web.StreamResponse:
            name = _service(request.host)
            if name == LOADTESTER:
                return await _loadtester(services, request)
            if name in PROMETHEUS_NAMES:
                return await _prometheus(services, session, request)
            services.refused.append(request.host)
            return web.Response(status=502, text=f"no stand-in for {request.host}")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        async with serving(app) as url:
            services.url = url
            yield services
