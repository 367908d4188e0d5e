"""Webhook gates on a live release, served by the project's own load tester (a real service):
a shut confirm-rollout gate holds a new revision in Waiting, opening it starts the run; a shut
confirm-promotion gate holds a passing run in WaitingPromotion, opening it promotes."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio.client import ApiClient

from tests.e2e.harness import Recorder, apply, canary, deployment, get_deployment, image_of
from tests.e2e.harness import set_template as release

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"


async def _gate(url: str, action: str, namespace: str) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/gate/{action}", json={"name": NAME, "namespace": namespace}) as answer,
    ):
        assert answer.status == 202, await answer.text()


def _gated_canary(namespace: str, url: str) -> dict[str, Any]:
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=3, step_weights=[20, 40])
    manifest["spec"]["analysis"]["webhooks"] = [
        {"name": "start", "type": "confirm-rollout", "url": f"{url}/gate/check", "timeout": "1s"},
        {"name": "go", "type": "confirm-promotion", "url": f"{url}/gate/check", "timeout": "1s"},
    ]
    return manifest


def _phase(recorder: Recorder) -> str | None:
    last = recorder.statuses.last
    return last.phase if last is not None else None


async def test_closed_gates_hold_the_release_and_opening_them_lets_it_through(
    api: ApiClient, namespace: str, loadtester: str
) -> None:
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, _gated_canary(namespace, loadtester))
        await recorder.wait(
            lambda: _phase(recorder) == "Initialized", within=30, what="Initialized"
        )

        released = time.monotonic()
        await release(api, NAME, namespace=namespace, tag="6.7.1")
        await recorder.wait(lambda: _phase(recorder) == "Waiting", within=30, what="Waiting")
        assert recorder.canary_weights == [0], "nothing moves while the rollout gate is shut"

        await _gate(loadtester, "open", namespace)
        await recorder.wait(
            lambda: (recorder.weights.last or (100, 0))[1] == 20, within=30, what="weight 20"
        )
        await _gate(loadtester, "close", namespace)
        await recorder.wait(
            lambda: _phase(recorder) == "WaitingPromotion", within=30, what="WaitingPromotion"
        )
        primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
        assert image_of(primary).endswith(":6.7.0"), "not promoted while the gate is shut"

        await _gate(loadtester, "open", namespace)
        outcome = await recorder.outcome(since=released, within=60)
        assert outcome.phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 20, 40, 0], recorder.describe()
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary).endswith(":6.7.1")
