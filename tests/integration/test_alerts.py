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
from kubernetes_asyncio.client import ApiClient, CoreV1Api

from canary.api.crd import all_crds
from canary.controller.reconcile import Reconciler
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.resources import CANARY
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
    await _deploy_example(
        api,
        namespace,
        alerts=[
            {"name": "team", "severity": "info", "providerRef": {"name": "plain"}},
            {"name": "secret", "severity": "info", "providerRef": {"name": "hidden"}},
            {"name": "pager", "severity": "error", "providerRef": {"name": "plain"}},
        ],
    )
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


async def _deploy_example(api: ApiClient, namespace: str, *, alerts: list[dict[str, Any]]) -> None:
    """examples/podinfo's Deployment and Canary in `namespace`, the Canary's alerts `alerts`."""
    await install_crds(api, all_crds().values())
    for name in ("deployment.yaml", "canary.yaml"):
        manifest = yaml.safe_load((EXAMPLES / name).read_text())
        manifest["metadata"]["namespace"] = namespace
        if manifest["kind"] == "Canary":
            manifest["spec"]["analysis"]["alerts"] = alerts
        await resources.apply(api, manifest)


async def _warnings(api: ApiClient, namespace: str, reason: str) -> list[str]:
    found = await CoreV1Api(api).list_namespaced_event(
        namespace, field_selector="involvedObject.kind=Canary,involvedObject.name=podinfo"
    )
    return [e.message for e in found.items if e.reason == reason and e.type == "Warning"]


def _alerts_ready(obj: dict[str, Any] | None) -> dict[str, Any]:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "AlertsReady"), {})


async def test_unusable_alert_providers_show_on_the_canary_once_and_never_stop_it(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    """A missing AlertProvider, one whose Secret is missing, one whose Secret has no address:
    the Canary says so (`AlertsReady=False`, one Warning event per distinct problem), its
    release is not held up, and once the providers are fixed the condition turns True."""
    await _deploy_example(
        api,
        namespace,
        alerts=[
            {"name": "missing", "severity": "info", "providerRef": {"name": "nowhere"}},
            {"name": "no-secret", "severity": "info", "providerRef": {"name": "lost"}},
            {"name": "no-address", "severity": "info", "providerRef": {"name": "blank"}},
        ],
    )
    await resources.apply(
        api,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "only-token", "namespace": namespace},
            "data": {"token": base64.b64encode(b"s3cret").decode()},
        },
    )
    for name, secret in (("lost", "gone"), ("blank", "only-token")):
        await resources.apply(
            api,
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "AlertProvider",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"type": "slack", "secretRef": {"name": secret}},
            },
        )
    reconciler = Reconciler(api, sandbox_settings(sandbox))
    key = (namespace, "podinfo")

    async def cycle() -> dict[str, Any] | None:
        await reconciler.cycle(key)
        return await resources.get(api, CANARY, "podinfo", namespace=namespace)

    try:
        canary = await eventually(
            cycle,
            until=lambda obj: (obj or {}).get("status", {}).get("phase") == "Initialized",
            what="phase Initialized despite the alerts",
        )
        for _ in range(3):  # more cycles: the problem stays, its event is not repeated
            canary = await cycle()
        assert canary is not None
        condition = _alerts_ready(canary)
        assert (condition["status"], condition["reason"]) == ("False", "AlertProviderNotFound")
        message = condition["message"]
        assert f"alert 'missing': AlertProvider {namespace}/nowhere does not exist" in message
        assert f"alert 'no-secret': AlertProvider {namespace}/lost: its Secret" in message
        assert "gone (spec.secretRef) does not exist" in message
        assert f"alert 'no-address': AlertProvider {namespace}/blank: its Secret" in message
        assert "has no `address` key" in message
        ready = next(c for c in canary["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", "an alert problem never fails the release"
        assert await _warnings(api, namespace, "AlertProviderNotFound") == [message]

        await resources.apply(
            api,
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "AlertProvider",
                "metadata": {"name": "nowhere", "namespace": namespace},
                "spec": {"type": "slack", "secretRef": {"name": "only-token"}},
            },
        )
        for name in ("gone", "only-token"):
            await resources.apply(
                api,
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name, "namespace": namespace},
                    "data": {"address": base64.b64encode(b"http://127.0.0.1:9/hook").decode()},
                },
            )
        fixed = await eventually(
            cycle,
            until=lambda obj: _alerts_ready(obj).get("status") == "True",
            what="AlertsReady=True once every provider is usable",
        )
        assert _alerts_ready(fixed)["reason"] == "AlertProvidersUsable"
    finally:
        reconciler.prometheus.close()
        await reconciler.alerts.close()
