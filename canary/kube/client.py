"""An API client for a kubeconfig file, or for the in-cluster service account."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from aiohttp.helpers import get_env_proxy_for_url
from kubernetes_asyncio import config
from kubernetes_asyncio.client import ApiClient, Configuration
from yarl import URL

from canary.kube.fence import FencedApiClient

# Other packages name the client type through here: only canary.kube imports kubernetes_asyncio.
__all__ = ["ApiClient", "api_client"]


@asynccontextmanager
async def api_client(
    kubeconfig: Path | None = None, *, may_write: Callable[[], bool] | None = None
) -> AsyncIterator[ApiClient]:
    """A client for `kubeconfig`; without one, the in-cluster config, else ~/.kube/config.

    With `may_write`, the client sends no write while `may_write()` is False (`canary.kube.fence`).
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
    # kubernetes_asyncio's session trusts the environment: aiohttp then looks up the proxy
    # variables and ~/.netrc again for every request, in a thread, which was about a fifth of
    # the controller's CPU in a release of 100 Canaries (py-spy, bench/scale.py). The proxy is
    # read once above; netrc plays no part with the API server (tokens and certificates do).
    client.rest_client.pool_manager._trust_env = False  # private: tests/unit/kube/test_client.py
    async with client:
        yield client


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
