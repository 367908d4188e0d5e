"""The dashboard's aiohttp application, and serving it as `canary dashboard`.

`serve` picks the access mode: `kubeconfig` (the person's own kubeconfig; the server must
listen on loopback, since anyone who reaches it would act as that person) or `token` (in a
cluster: each request brings a bearer token, see `access.TokenAccess`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Final, Literal

import jinja2
import structlog
from aiohttp import web

from canary.dashboard import live, pages
from canary.dashboard.access import Access, KubeconfigAccess, TokenAccess
from canary.dashboard.security import LOOPBACK_HOSTS, add_headers, middlewares
from canary.kube.client import api_client
from canary.kube.identity import who_am_i

log = structlog.get_logger(__name__)

DEFAULT_LISTEN: Final = "127.0.0.1:3100"
CSRF_SECRET_ENV: Final = "CANARY_DASHBOARD_CSRF_SECRET"  # noqa: S105 - the variable's name
Mode = Literal["kubeconfig", "token"]


def build_app(
    access: Access, *, secret: bytes, loopback_only: bool, prometheus_url: str = ""
) -> web.Application:
    """The application; `loopback_only` refuses requests for any other host name."""
    hosts = LOOPBACK_HOSTS if loopback_only else None
    app = web.Application(
        middlewares=[pages.errors, *middlewares(access, secret=secret, hosts=hosts)]
    )
    app[pages.ACCESS] = access
    app[pages.SECRET] = secret
    app[pages.PROMETHEUS] = prometheus_url
    app[pages.TEMPLATES] = jinja2.Environment(
        loader=jinja2.PackageLoader("canary.dashboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app.on_response_prepare.append(add_headers)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/", pages.list_page)
    app.router.add_get("/live", live.list_events)
    app.router.add_get("/canaries/{namespace}/{name}", pages.detail_page)
    app.router.add_get("/canaries/{namespace}/{name}/live", live.canary_events)
    app.router.add_post("/canaries/{namespace}/{name}/{action}", pages.action)
    app.router.add_static("/static", Path(str(files("canary.dashboard") / "static")))
    return app


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


@dataclass(frozen=True)
class Options:
    listen: str = DEFAULT_LISTEN
    mode: Mode = "kubeconfig"
    kubeconfig: Path | None = None
    prometheus_url: str = ""
    audiences: tuple[str, ...] = ()


def split_listen(listen: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) as its parts; a `ValueError` naming the option otherwise."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen {listen!r}: expected HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def csrf_secret() -> bytes:
    """The key of the CSRF tokens: env CANARY_DASHBOARD_CSRF_SECRET, shared by the replicas
    behind one Service (the chart sets it); else a random one for this process."""
    shared = os.environ.get(CSRF_SECRET_ENV, "")
    return shared.encode() if shared else secrets.token_bytes(32)


async def serve(options: Options, *, started: asyncio.Event | None = None) -> None:
    """Serve until cancelled. Kubeconfig mode refuses a non-loopback address."""
    host, port = split_listen(options.listen)
    if options.mode == "kubeconfig" and not is_loopback(host):
        raise ValueError(
            f"--listen {options.listen!r}: with the kubeconfig's rights the dashboard listens on "
            "loopback only (anyone reaching it would act as you); in a cluster use --auth token"
        )
    async with api_client(options.kubeconfig) as api:
        access: Access
        if options.mode == "token":
            access = TokenAccess(api, audiences=options.audiences)
        else:
            access = KubeconfigAccess(api, user=await who_am_i(api) or "kubeconfig user")
        app = build_app(
            access,
            secret=csrf_secret(),
            loopback_only=options.mode == "kubeconfig",
            prometheus_url=options.prometheus_url,
        )
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
            log.info("dashboard_listening", url=f"http://{options.listen}", auth=options.mode)
            if started is not None:
                started.set()
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
