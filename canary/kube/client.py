"""An API client for a kubeconfig file, or for the in-cluster service account."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Final

from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import config
from kubernetes_asyncio.client import ApiClient, Configuration
from yarl import URL

from canary.kube.fence import FencedApiClient
from canary.kube.transport import Http2RestClient

# Other packages name the client type through here: only canary.kube imports kubernetes_asyncio.
__all__ = ["IDLE_CONNECTION_SECONDS", "ApiClient", "api_client", "speak_http2"]

# How long an idle connection to the API server is kept for the next request. The API server
# closes one after 90 s (k8s.io/apiserver's secure serving, "matches http.DefaultTransport
# keep-alive timeout", the timeout client-go keeps idle HTTP/1.1 connections for); aiohttp's
# default is 15 s. Kept 5 s short of the server's, so that no request goes out on a connection
# the server is closing. A burst of writes that comes within that time of the last request
# then reuses open connections instead of opening up to `--max-parallel` new TLS connections
# to an API server that is busy with the burst (bench/README.md, "Connections kept").
IDLE_CONNECTION_SECONDS: Final = 85.0


@asynccontextmanager
async def api_client(
    kubeconfig: Path | None = None,
    *,
    may_write: Callable[[], bool] | None = None,
    http2: bool = True,
) -> AsyncIterator[ApiClient]:
    """A client for `kubeconfig`; without one, the in-cluster config, else ~/.kube/config.

    With `may_write`, the client sends no write while `may_write()` is False (`canary.kube.fence`).
    It speaks HTTP/2 where the server offers it, unless `http2` is False (a benchmark that
    stands in for many separate clients, each with connections of its own).
    """
    configuration = Configuration()
    if kubeconfig is None and "KUBERNETES_SERVICE_HOST" in os.environ:
        config.load_incluster_config(client_configuration=configuration)
    else:
        await config.load_kube_config(
            config_file=str(kubeconfig) if kubeconfig is not None else None,
            client_configuration=configuration,
        )
    proxy_once(configuration)
    client = (
        ApiClient(configuration)
        if may_write is None
        else FencedApiClient(configuration, may_write=may_write)
    )
    if http2:
        await speak_http2(client)
    # kubernetes_asyncio's session trusts the environment: aiohttp then looks up the proxy
    # variables and ~/.netrc again for every request, in a thread, which was about a fifth of
    # the controller's CPU in a release of 100 Canaries (py-spy, bench/scale.py). The proxy is
    # read once above; netrc plays no part with the API server (tokens and certificates do).
    # These settings matter where the client falls back to HTTP/1.1 (`canary.kube.transport`).
    client.rest_client.pool_manager._trust_env = False  # private: tests/unit/kube/test_client.py
    connector = client.rest_client.pool_manager.connector
    if connector is not None:  # private attribute too: tests/unit/kube/test_client.py
        connector._keepalive_timeout = IDLE_CONNECTION_SECONDS
    async with client:
        yield client


async def speak_http2(client: ApiClient) -> None:
    """Send `client`'s requests over HTTP/2 where the server offers it (`canary.kube.transport`),
    in place of the library's HTTP/1.1 client, which is closed unused."""
    await client.rest_client.close()
    client.rest_client = Http2RestClient(client.configuration)


def proxy_once(configuration: Configuration) -> None:
    """The proxy to reach the API server through, from HTTPS_PROXY / HTTP_PROXY and NO_PROXY as
    client-go honours them, unless the configuration names one already."""
    if configuration.proxy:
        return
    with suppress(LookupError):
        proxy, auth = get_env_proxy_for_url(URL(configuration.host or ""))
        if auth is not None:
            proxy = proxy.with_user(auth.login).with_password(auth.password)
        configuration.proxy = str(proxy)
