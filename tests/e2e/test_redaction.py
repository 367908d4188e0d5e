"""Credentials in URLs never reach the Canary's status, its events or the controller's log.

A release whose rollout webhook URL carries a user name, a password and a token in its query
string, and whose MetricTemplate's address carries another password, fails (the webhook
answers 401, the template's Prometheus is not there) and is rolled back. Every status the test
saw, every event about the Canary and the controller's whole log show the URLs with `***` in
place of the secrets, and never the secrets themselves.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from tests.e2e.harness import (
    Controller,
    apply,
    canary,
    deployment,
    events_including,
    get_canary,
    set_template,
)
from tests.integration.local_http import free_port
from tests.integration.waiting import eventually

NAME = "podinfo"
HOOK_PASSWORD = "hunter2-hook-PASS"  # noqa: S105 - the secrets that must not leak
HOOK_TOKEN = "tok-query-SECRET"  # noqa: S105
PROM_PASSWORD = "prom-addr-PASS"  # noqa: S105
SECRETS = (HOOK_PASSWORD, HOOK_TOKEN, PROM_PASSWORD)


@pytest.fixture
async def refusing_hook() -> AsyncIterator[int]:
    """A webhook receiver on 127.0.0.1 that answers every call 401; its port."""

    async def refuse(_: web.Request) -> web.Response:
        return web.Response(status=401, text="bad credentials")

    app = web.Application()
    app.router.add_post("/{tail:.*}", refuse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def test_no_credential_of_a_url_reaches_status_events_or_log(
    api: ApiClient, namespace: str, controller: Controller, refusing_hook: int
) -> None:
    hook_url = (
        f"http://admin:{HOOK_PASSWORD}@127.0.0.1:{refusing_hook}/hook?token={HOOK_TOKEN}&team=a"
    )
    prometheus = f"http://promuser:{PROM_PASSWORD}@127.0.0.1:{free_port()}"
    await apply(
        api,
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "MetricTemplate",
            "metadata": {"name": "guarded", "namespace": namespace},
            "spec": {"provider": {"type": "prometheus", "address": prometheus}, "query": "1"},
        },
    )
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=2, step_weights=[20])
    analysis = manifest["spec"]["analysis"]
    analysis["webhooks"] = [{"name": "smoke", "type": "rollout", "url": hook_url, "timeout": "1s"}]
    analysis["metrics"].append(
        {"name": "guarded", "templateRef": {"name": "guarded"}, "thresholdRange": {"max": 1}}
    )
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(api, manifest)

    statuses: list[str] = []

    async def status() -> str:
        found = await get_canary(api, NAME, namespace=namespace)
        statuses.append(json.dumps(found.get("status") or {}))
        return str((found.get("status") or {}).get("phase"))

    await eventually(status, until=lambda phase: phase == "Initialized", within=60, what="init")
    await set_template(api, NAME, namespace=namespace, tag="6.7.1")
    await eventually(status, until=lambda phase: phase == "Failed", within=90, what="rollback")

    seen = "\n".join(statuses)
    rolled_back = await events_including(api, NAME, namespace=namespace, reason="Rollback")
    events = "\n".join(e.message for e in rolled_back)
    log = controller.log.read_text(errors="replace")
    # The URLs were shown, masked: the redaction was exercised, not just nothing printed.
    shown_hook = f"http://admin:***@127.0.0.1:{refusing_hook}/hook?token=***&team=a"
    assert shown_hook in seen
    assert "http://promuser:***@127.0.0.1:" in seen
    assert shown_hook in events or shown_hook in log
    for secret in SECRETS:
        assert secret not in seen, f"{secret} in the status"
        assert secret not in events, f"{secret} in an event"
        assert secret not in log, f"{secret} in the controller log"
