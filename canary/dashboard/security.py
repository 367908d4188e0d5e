"""What every request passes before a page sees it: the host check, authentication, CSRF for
actions, and the security headers of every answer.

- Host: with kubeconfig access, only loopback host names are served, so a web page elsewhere
  cannot reach the person's dashboard through DNS rebinding.
- Authentication: `access.Access` names the caller, or answers 401.
- CSRF: a request that changes anything (any method but GET and HEAD) must carry the header
  `X-CSRF-Token` with the token the pages embed, an HMAC of the caller's key under a secret made
  when the server starts; and its `Origin`, when sent, must be this server. A forged or missing
  token is 403.
- Headers: a strict Content-Security-Policy (scripts and styles from this server only, no
  inline script), no framing, no sniffing, no referrer, no caching of pages.

This module must not read or write Kubernetes objects.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Collection
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from canary.dashboard.access import Access, Caller

CALLER: Final = web.RequestKey("caller", Caller)
CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS: Final = frozenset({"/healthz"})
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def csrf_token(secret: bytes, caller: Caller) -> str:
    """The token a page gives `caller` for its actions."""
    return hmac.new(secret, caller.key.encode(), hashlib.sha256).hexdigest()


def caller_of(request: web.Request) -> Caller:
    caller: Caller | None = request.get(CALLER)
    if caller is None:
        raise web.HTTPUnauthorized(text="not authenticated")
    return caller


def middlewares(
    access: Access, *, secret: bytes, hosts: Collection[str] | None
) -> list[Middleware]:
    """Host check (when `hosts` is given), then authentication, then CSRF on actions."""

    @web.middleware
    async def host_check(request: web.Request, handler: Handler) -> web.StreamResponse:
        host = (urlsplit(f"//{request.host}").hostname or "").lower()
        if hosts is not None and host not in hosts:
            raise web.HTTPMisdirectedRequest(text=f"this dashboard does not serve host {host!r}")
        return await handler(request)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in PUBLIC_PATHS:
            request[CALLER] = await access.authenticate(request)
        return await handler(request)

    @web.middleware
    async def csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in SAFE_METHODS:
            expected = csrf_token(secret, caller_of(request))
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), expected.encode()):
                raise web.HTTPForbidden(text=f"missing or wrong {CSRF_HEADER} header")
            origin = request.headers.get("Origin")
            if origin is not None and urlsplit(origin).netloc != request.host:
                raise web.HTTPForbidden(text=f"cross-origin request from {origin} refused")
        return await handler(request)

    return [host_check, authenticate, csrf]


async def add_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """Security headers on every answer (pages, JSON, events, static files, errors)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")
