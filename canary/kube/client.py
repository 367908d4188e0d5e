"""An API client for a kubeconfig file, or for the in-cluster service account."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from kubernetes_asyncio import config
from kubernetes_asyncio.client import ApiClient, Configuration

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
    client = (
        ApiClient(configuration)
        if may_write is None
        else FencedApiClient(configuration, may_write=may_write)
    )
    async with client:
        yield client
