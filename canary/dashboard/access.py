"""Who is asking, and the API client that acts as them.

Two ways, chosen when the server starts:

- `KubeconfigAccess` (`canary dashboard` on a workstation): the person's kubeconfig, like
  `kubectl`. Only the person can reach the server (it listens on loopback), so every request is
  theirs, and what their kubeconfig may not do, the dashboard cannot do either.
- `TokenAccess` (deployed in a cluster): every request carries `Authorization: Bearer <token>`
  (from the person, or from an authenticating proxy in front). The token is checked with a
  TokenReview, and every read and action is sent with that same token (`canary.kube.identity`).
  No token, or a token the API server does not accept, is 401: nothing is anonymous.

This module authenticates; it must not decide what anyone may do: the API server does.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Final, Protocol

from aiohttp import web

from canary.kube.client import ApiClient
from canary.kube.errors import KubeError
from canary.kube.identity import client_with_token, review_token

REVIEW_TTL: Final = 30.0  # seconds a TokenReview answer is reused for the same token
REVIEW_CACHE: Final = 1024  # tokens remembered at most


@dataclass(frozen=True)
class Caller:
    """The person behind a request: `name` is shown on the pages; `key` identifies them without
    revealing their credentials (the CSRF token is bound to it)."""

    name: str
    key: str
    token: str = field(default="", repr=False)


class Access(Protocol):
    async def authenticate(self, request: web.Request) -> Caller:
        """The caller of `request`; raises `web.HTTPUnauthorized` when there is none."""
        ...

    def client(self, caller: Caller) -> AbstractAsyncContextManager[ApiClient]:
        """An API client that acts as `caller`, for the duration of one request."""
        ...


class KubeconfigAccess:
    """Every request is the kubeconfig's user (the server listens on loopback only)."""

    def __init__(self, api: ApiClient, *, user: str) -> None:
        self._api = api
        self._caller = Caller(name=user, key="kubeconfig:" + user)

    async def authenticate(self, request: web.Request) -> Caller:  # noqa: ARG002 - one person
        return self._caller

    @asynccontextmanager
    async def client(self, caller: Caller) -> AsyncIterator[ApiClient]:  # noqa: ARG002
        yield self._api


class TokenAccess:
    """Every request brings a bearer token, reviewed by the API server and then used as is."""

    def __init__(self, api: ApiClient, *, audiences: tuple[str, ...] = ()) -> None:
        self._api = api  # the dashboard's own identity: it only creates TokenReviews
        self._audiences = audiences
        self._reviewed: dict[str, tuple[float, Caller]] = {}

    async def authenticate(self, request: web.Request) -> Caller:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("no bearer token: send `Authorization: Bearer <token>`")
        key = "token:" + hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        known = self._reviewed.get(key)
        if known is not None and now - known[0] < REVIEW_TTL:
            return known[1]
        try:
            reviewed = await review_token(self._api, token, audiences=self._audiences)
        except KubeError as error:
            raise web.HTTPServiceUnavailable(
                text=f"cannot check the token with the API server: {error.message}"
            ) from error
        if not reviewed.authenticated:
            raise _unauthorized(f"the token was not accepted: {reviewed.error}")
        caller = Caller(name=reviewed.username, key=key, token=token)
        if len(self._reviewed) >= REVIEW_CACHE:
            self._reviewed.clear()
        self._reviewed[key] = (now, caller)
        return caller

    def client(self, caller: Caller) -> AbstractAsyncContextManager[ApiClient]:
        return client_with_token(self._api, caller.token)


def _unauthorized(reason: str) -> web.HTTPUnauthorized:
    return web.HTTPUnauthorized(text=reason, headers={"WWW-Authenticate": 'Bearer realm="canary"'})
