"""Who a bearer token belongs to (TokenReview), and an API client that acts as that token's owner.

The dashboard, deployed in a cluster, serves people who each bring their own token. It asks the
API server who the token belongs to (a TokenReview, sent with the dashboard's own identity, which
needs only `create tokenreviews`), and then sends every read and write of that person with their
own token, so the API server applies their RBAC, their audit identity and their admission rules:
the dashboard has no rights of its own to lend. That is why it passes the token through instead
of impersonating: impersonation would need the `impersonate` verb, a right to act as anyone.

This module authenticates and builds clients; it must not decide what a person may do (the API
server does) nor keep tokens beyond the client it builds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

from kubernetes_asyncio.client import ApiClient, Configuration

from canary.kube.client import speak_http2
from canary.kube.errors import KubeError
from canary.kube.resources import _request

TOKEN_REVIEWS: Final = "/apis/authentication.k8s.io/v1/tokenreviews"  # noqa: S105 - a path
SELF_SUBJECT_REVIEWS: Final = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@dataclass(frozen=True)
class Reviewed:
    """What the API server said of a token: whose it is, or why it is not accepted."""

    authenticated: bool
    username: str = ""
    groups: tuple[str, ...] = ()
    error: str = ""


async def review_token(api: ApiClient, token: str, *, audiences: tuple[str, ...] = ()) -> Reviewed:
    """Ask the API server (as `api`'s identity) whose `token` is; `Forbidden` when that identity
    may not create TokenReviews."""
    spec: dict[str, object] = {"token": token}
    if audiences:
        spec["audiences"] = list(audiences)
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}
    answer = await _request(api, "POST", TOKEN_REVIEWS, payload=review)
    status = answer.get("status") or {}
    user = status.get("user") or {}
    if not status.get("authenticated"):
        return Reviewed(
            authenticated=False, error=str(status.get("error") or "the token is not valid")
        )
    return Reviewed(
        authenticated=True,
        username=str(user.get("username") or ""),
        groups=tuple(str(group) for group in user.get("groups") or ()),
    )


@asynccontextmanager
async def client_with_token(base: ApiClient, token: str) -> AsyncIterator[ApiClient]:
    """A client for the same API server as `base` (its address and trusted CA), that
    authenticates with `token` only: none of `base`'s own credentials (token, client
    certificate) are carried over."""
    known = base.configuration
    configuration = Configuration(host=known.host)
    configuration.ssl_ca_cert = known.ssl_ca_cert
    configuration.verify_ssl = known.verify_ssl
    configuration.tls_server_name = known.tls_server_name
    configuration.proxy = known.proxy
    configuration.api_key = {"BearerToken": f"Bearer {token}"}
    async with ApiClient(configuration) as client:
        await speak_http2(client)
        yield client


async def who_am_i(api: ApiClient) -> str:
    """The user name `api` authenticates as (a SelfSubjectReview), or "" when the API server
    cannot say (older than 1.28, or the review is refused)."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    try:
        answer = await _request(api, "POST", SELF_SUBJECT_REVIEWS, payload=review)
    except KubeError:
        return ""
    user = (answer.get("status") or {}).get("userInfo") or {}
    return str(user.get("username") or "")
