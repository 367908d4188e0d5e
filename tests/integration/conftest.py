"""Fixtures shared by the integration tests (the sandbox, api and namespace ones are in
tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.controller.checks import PrometheusPool
from canary.kube import resources
from canary.kube.resources import CanaryRef


@pytest.fixture
async def owner(api: ApiClient, namespace: str) -> CanaryRef:
    """A ConfigMap standing in for the Canary as the owner of the objects a test creates."""
    stored = await resources.create(
        api,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "podinfo", "namespace": namespace},
        },
    )
    return CanaryRef(
        name="podinfo",
        namespace=namespace,
        uid=stored["metadata"]["uid"],
        api_version="v1",
        kind="ConfigMap",
    )


@pytest.fixture
async def pool() -> AsyncIterator[PrometheusPool]:
    """The controller's pool of Prometheus clients, closed after the test."""
    prometheus = PrometheusPool(timeout=5)
    yield prometheus
    prometheus.close()
