"""A release judged by a non-Prometheus provider: a Datadog MetricTemplate, end to end.

The controller process runs on the sandbox with a Canary whose only metric is a Datadog
template; its credentials are in a Secret of the Canary's namespace. The Datadog API is the
test server of tests/integration/provider_servers.py on 127.0.0.1, answering 0.5 to a query
about `case:pass` and 7 to one about `case:fail`. A release judged on `pass` is promoted; the
next one, judged on `fail` (the Canary's templateVariables changed), is rolled back with the
check's reason in its status. The server saw the Secret's keys on every query; neither key
shows in the status, the events or the controller's log.
"""

from __future__ import annotations

import base64
import json
from typing import Any

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
from tests.integration import provider_servers as servers
from tests.integration.crds import apply_with_crds
from tests.integration.waiting import eventually

NAME = "podinfo"
KEYS = {
    "datadog_api_key": servers.DATADOG_API_KEY,
    "datadog_application_key": servers.DATADOG_APP_KEY,
}


def _canary(namespace: str, case: str) -> dict[str, Any]:
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=2, step_weights=[20, 50])
    manifest["spec"]["analysis"]["metrics"] = [
        {
            "name": "datadog-errors",
            "interval": "1m",
            "templateRef": {"name": "datadog-errors"},
            "templateVariables": {"case": case},
            "thresholdRange": {"max": 1},
        }
    ]
    return manifest


async def test_a_datadog_template_promotes_a_good_release_and_rolls_back_a_bad_one(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    async with servers.serve("datadog") as server:
        await apply(
            api,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "datadog", "namespace": namespace},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in KEYS.items()},
            },
        )
        await apply_with_crds(
            api,
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "MetricTemplate",
                "metadata": {"name": "datadog-errors", "namespace": namespace},
                "spec": {
                    "provider": {
                        "type": "datadog",
                        "address": server.url,
                        "secretRef": {"name": "datadog"},
                    },
                    "query": "sum:requests.errors{case:{{ variables.case }},app:{{ target }}}",
                },
            },
        )
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, _canary(namespace, "pass"))
        statuses: list[str] = []

        async def phase() -> str:
            found = await get_canary(api, NAME, namespace=namespace)
            statuses.append(json.dumps(found.get("status") or {}))
            return str((found.get("status") or {}).get("phase"))

        await eventually(phase, until=lambda p: p == "Initialized", within=60, what="init")
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        await eventually(phase, until=lambda p: p == "Succeeded", within=120, what="promotion")
        promoted = [seen for seen in server.seen if seen.case == "pass"]
        assert len(promoted) >= 2, server.seen  # a check at each step, each authenticated
        expected = f"{servers.DATADOG_API_KEY}/{servers.DATADOG_APP_KEY}"
        assert all(seen.credentials == expected for seen in server.seen)

        await apply(api, _canary(namespace, "fail"))
        await set_template(api, NAME, namespace=namespace, tag="6.7.2")
        await eventually(phase, until=lambda p: p == "Failed", within=120, what="rollback")

    status = await get_canary(api, NAME, namespace=namespace)
    checks = json.dumps(status["status"].get("checks") or [])
    assert "datadog-errors 7.00 > 1 (max)" in checks, checks
    rolled_back = await events_including(api, NAME, namespace=namespace, reason="Rollback")
    events = "\n".join(event.message for event in rolled_back)
    log = controller.log.read_text(errors="replace")
    for key in KEYS.values():
        assert key not in "\n".join(statuses), "a Datadog key in the status"
        assert key not in events, "a Datadog key in an event"
        assert key not in log, "a Datadog key in the controller log"
