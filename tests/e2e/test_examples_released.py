"""The examples no other e2e test releases, released as written on the sandbox: the Canary of
docs/canary.md, and examples/production (every gate, a load test, alerts); and the routing
examples' rollbacks (test_routing.py promotes them).

What is changed, and only that: the namespace, `analysis.interval` (2 s, so a release takes
seconds), and the in-cluster addresses (the load tester, the load test's target, the Slack
webhook in the alert Secret) pointed at local processes, since tests reach only 127.0.0.1.
The other examples are released by test_routing.py (gatewayapi, bluegreen, ab-testing),
test_autoscaler.py, test_config_tracking.py, test_daemonset.py (daemonset), and `canary demo`
(examples/podinfo, test_demo.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube.resources import HTTP_ROUTE
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    REPOSITORY,
    Recorder,
    apply,
    deployment,
    get_canary,
    get_deployment,
    http_route_weights_of,
    image_of,
    set_template,
)
from tests.e2e.loadtest import Received
from tests.integration.test_docs_examples import documented_objects
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
EXAMPLES = REPOSITORY / "examples"
WITHIN = 120.0


def _documents(path: Path, namespace: str) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for document in documents:
        document["metadata"]["namespace"] = namespace
    return documents


def _documented(kind: str) -> dict[str, Any]:
    [document] = [
        d
        for where, d in documented_objects()
        if where.startswith("docs/canary.md") and d["kind"] == kind
    ]
    copied: dict[str, Any] = json.loads(json.dumps(document))
    return copied


async def _release(api: ApiClient, recorder: Recorder, *, tag: str, faulty: bool = False) -> str:
    released = time.monotonic()
    annotations = {ERROR_RATE_ANNOTATION: "0.3"} if faulty else None
    await set_template(api, NAME, namespace=recorder.namespace, tag=tag, annotations=annotations)
    return (await recorder.outcome(since=released, within=WITHIN)).phase


async def _primary_image(api: ApiClient, namespace: str) -> str:
    return image_of(await get_deployment(api, f"{NAME}-primary", namespace=namespace))


async def test_the_documented_canary_promotes_a_good_version_and_rolls_back_a_bad_one(
    api: ApiClient, namespace: str
) -> None:
    canary = _documented("Canary")
    canary["metadata"]["namespace"] = namespace
    canary["spec"]["analysis"]["interval"] = "2s"
    template = _documented("MetricTemplate")
    template["metadata"]["namespace"] = namespace
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        for document in _documents(EXAMPLES / "podinfo/deployment.yaml", namespace):
            await apply(api, document)
        await apply(api, template)
        await apply(api, canary)
        await recorder.until_phase("Initialized", within=30)
        assert await _release(api, recorder, tag="6.7.1") == "Succeeded", recorder.describe()
        assert await _primary_image(api, namespace) == f"{IMAGE}:6.7.1"
        assert await _release(api, recorder, tag="6.7.2", faulty=True) == "Failed", (
            recorder.describe()
        )
    assert await _primary_image(api, namespace) == f"{IMAGE}:6.7.1"
    assert recorder.canary_weights[-1] == 0, recorder.describe()


def _production(namespace: str, *, loadtester: str, target: str) -> list[dict[str, Any]]:
    """examples/production's AlertProvider, its Secret and the Canary, addresses made local."""
    documents = _documents(EXAMPLES / "production/alertprovider.yaml", namespace)
    for document in documents:
        if document["kind"] == "Secret":
            document["stringData"]["address"] = target
    [canary] = _documents(EXAMPLES / "production/canary.yaml", namespace)
    analysis = canary["spec"]["analysis"]
    analysis["interval"] = "2s"
    for hook in analysis["webhooks"]:
        hook["url"] = hook["url"].replace("http://canary-loadtester", loadtester)
        if "cmd" in hook.get("metadata", {}):
            hook["metadata"]["cmd"] = hook["metadata"]["cmd"].replace(
                "http://podinfo-canary:9898/", target
            )
    return [*documents, canary]


async def _open_gate(loadtester: str, namespace: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{loadtester}/gate/open", json={"name": NAME, "namespace": namespace}
        ) as answer,
    ):
        assert answer.status == 202, await answer.text()


def _alerts(received: Received) -> list[dict[str, Any]]:
    return [json.loads(body) for method, _, _, body in received.requests if method == "POST"]


async def test_the_production_example_waits_for_its_gates_then_releases_and_alerts_on_failure(
    api: ApiClient, namespace: str, loadtester: str, load_target: Received
) -> None:
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        for document in _documents(EXAMPLES / "podinfo/deployment.yaml", namespace):
            await apply(api, document)
        for document in _production(namespace, loadtester=loadtester, target=load_target.url):
            await apply(api, document)
        await recorder.until_phase("Initialized", within=30)

        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        await recorder.until_phase("Waiting", within=30)
        assert recorder.canary_weights == [0], "nothing moves while the start gate is shut"
        await _open_gate(loadtester, namespace)  # both gates check the same one
        outcome = await recorder.outcome(since=released, within=WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()
        assert await _primary_image(api, namespace) == f"{IMAGE}:6.7.1"
        # stepWeights, then stepWeightPromotion (25) back to the primary.
        assert recorder.canary_weights == [0, 5, 10, 25, 50, 25, 0], recorder.describe()
        assert any(method == "GET" for method, *_ in load_target.requests), "the load test ran"
        before = len(_alerts(load_target))  # a warning per failed check, if any

        assert await _release(api, recorder, tag="6.7.2", faulty=True) == "Failed"
    assert await _primary_image(api, namespace) == f"{IMAGE}:6.7.1"

    async def rollback_alerts() -> list[dict[str, Any]]:
        return [a for a in _alerts(load_target)[before:] if "Rolling back" in json.dumps(a)]

    sent = await eventually(rollback_alerts, until=bool, within=10, what="a rollback alert")
    assert all(alert["channel"] == "releases" for alert in sent), sent  # the AlertProvider's


@pytest.mark.parametrize("path", ["gatewayapi/canary.yaml", "ab-testing/canary.yaml"])
async def test_a_routing_example_rolls_a_faulty_version_back(
    api: ApiClient, namespace: str, path: str
) -> None:
    [canary] = _documents(EXAMPLES / path, namespace)
    canary["spec"]["analysis"]["interval"] = "2s"
    recorder = Recorder(
        api, namespace=namespace, name=NAME, route=HTTP_ROUTE, weights_of=http_route_weights_of
    )
    async with recorder.running():
        for document in _documents(EXAMPLES / "podinfo/metrictemplate.yaml", namespace):
            await apply(api, document)
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, canary)
        await recorder.until_phase("Initialized", within=30)
        assert await _release(api, recorder, tag="6.7.1", faulty=True) == "Failed", (
            recorder.describe()
        )
    assert recorder.canary_weights[-1] == 0, recorder.describe()
    assert max(recorder.canary_weights) > 0, "the faulty version got traffic, then none"
    assert await _primary_image(api, namespace) == f"{IMAGE}:6.7.0"
    status = (await get_canary(api, NAME, namespace=namespace))["status"]
    [ready] = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert "error-rate" in ready["message"], ready  # rolled back for its errors, saying so
