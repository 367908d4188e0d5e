"""Alerts from a real reconcile: AlertProviders resolved (address in the spec, or in a Secret),
and the message delivered to a receiver on 127.0.0.1 that records what it gets."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from canary.api.crd import all_crds
from canary.controller.reconcile import Reconciler
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.sandbox.state import SandboxState
from tests.integration.controller_settings import sandbox_settings
from tests.integration.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "podinfo"


@pytest.fixture
async def receiver(unused_tcp_port: int) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(
            {
                "path": request.path,
                "auth": request.headers.get("Authorization"),
                **await request.json(),
            }
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", unused_tcp_port).start()
    try:
        yield f"http://127.0.0.1:{unused_tcp_port}", received
    finally:
        await runner.cleanup()


async def test_an_initialized_canary_alerts_every_provider_that_wants_info(
    api: ApiClient,
    namespace: str,
    sandbox: SandboxState,
    receiver: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = receiver
    await install_crds(api, all_crds().values())
    for name in ("deployment.yaml", "canary.yaml"):
        manifest = yaml.safe_load((EXAMPLES / name).read_text())
        manifest["metadata"]["namespace"] = namespace
        if manifest["kind"] == "Canary":
            manifest["spec"]["analysis"]["alerts"] = [
                {"name": "team", "severity": "info", "providerRef": {"name": "plain"}},
                {"name": "secret", "severity": "info", "providerRef": {"name": "hidden"}},
                {"name": "pager", "severity": "error", "providerRef": {"name": "plain"}},
            ]
        await resources.apply(api, manifest)
    secret_data = {"address": f"{url}/from-secret", "token": "s3cret"}
    await resources.apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "hook-address", "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret_data.items()},
        },
    )
    for name, spec in (
        ("plain", {"type": "webhook", "address": f"{url}/plain"}),
        ("hidden", {"type": "webhook", "secretRef": {"name": "hook-address"}}),
    ):
        await resources.apply(
            api,
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "AlertProvider",
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec,
            },
        )
    settings = sandbox_settings(sandbox, cluster_name="sandbox")
    reconciler = Reconciler(api, settings)
    try:

        async def cycle() -> int:
            await reconciler.cycle((namespace, "podinfo"))
            return len(received)

        await eventually(cycle, until=lambda count: count >= 2, what="two alerts delivered")
    finally:
        reconciler.prometheus.close()
        await reconciler.alerts.close()
    by_path = {alert["path"]: alert for alert in received}
    assert set(by_path) == {"/plain", "/from-secret"}, "the error-only alert stays silent"
    assert by_path["/from-secret"]["auth"] == "Bearer s3cret"
    for alert in by_path.values():
        assert (alert["canary"], alert["namespace"], alert["cluster"]) == (
            "podinfo",
            namespace,
            "sandbox",
        )
        assert alert["phase"] == "Initialized"
        assert alert["severity"] == "info"
        assert "Initialization done" in alert["message"]
