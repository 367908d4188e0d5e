"""What the dashboard's tests build on the sandbox: Canaries with a given status, ServiceAccounts
with given rights and their real tokens, and a dashboard served in-process for one test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from kubernetes_asyncio.client import ApiClient

from canary.dashboard.access import Access
from canary.dashboard.app import build_app
from canary.kube import resources
from canary.kube.resources import CANARY, ResourceKind
from tests.e2e.harness import canary
from tests.integration.crds import apply_with_crds

ROLE = ResourceKind("rbac.authorization.k8s.io/v1", "Role", "roles")
ROLE_BINDING = ResourceKind("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings")
READ = ["get", "list", "watch"]


async def canary_with_status(
    api: ApiClient, name: str, *, namespace: str, status: Mapping[str, Any]
) -> dict[str, Any]:
    """A Canary `name` (no controller runs: its status is what the test writes)."""
    await apply_with_crds(api, canary(name, namespace=namespace, step_weights=[10, 30, 50]))
    stored = await resources.get(api, CANARY, name, namespace=namespace)
    assert stored is not None
    return await resources.replace_status(api, CANARY, {**stored, "status": dict(status)})


async def service_account_token(
    api: ApiClient, name: str, *, namespace: str, canary_verbs: list[str]
) -> str:
    """A real token of a new ServiceAccount `name` that may do `canary_verbs` on Canaries (and
    read events) in `namespace`, from the TokenRequest API."""
    await resources.create(
        api,
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        },
    )
    rules = [{"apiGroups": [""], "resources": ["events"], "verbs": READ}]
    if canary_verbs:
        rules.append(
            {"apiGroups": ["canary.dev"], "resources": ["canaries"], "verbs": canary_verbs}
        )
    meta = {"name": name, "namespace": namespace}
    await resources.create(
        api, {"apiVersion": ROLE.api_version, "kind": "Role", "metadata": meta, "rules": rules}
    )
    await resources.create(
        api,
        {
            "apiVersion": ROLE_BINDING.api_version,
            "kind": "RoleBinding",
            "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        },
    )
    answer, _, _ = await api.call_api(
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        "POST",
        body={
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 3600},
        },
        header_params={"Accept": "application/json", "Content-Type": "application/json"},
        response_types_map={201: "object", 200: "object"},
        auth_settings=["BearerToken"],
        _return_http_data_only=False,
    )
    return str(answer["status"]["token"])


@asynccontextmanager
async def served(
    access: Access, *, loopback_only: bool = True, prometheus_url: str = ""
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """The dashboard on 127.0.0.1 (a free port), and an HTTP client of it."""
    app = build_app(
        access,
        secret=secrets.token_bytes(32),
        loopback_only=loopback_only,
        prometheus_url=prometheus_url,
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client
