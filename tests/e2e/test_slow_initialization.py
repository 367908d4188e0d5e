"""A primary that stays unready past `progressDeadlineSeconds` holds initialization, never fails it.

Hundreds of Canaries created at once on a slow cluster can leave primaries unready for longer
than the progress deadline. Like Flagger, the controller keeps waiting: Ready=False with reason
PrimaryNotReady, Stalled=True past the deadline with one Warning event, and Initialized as soon
as the primary is ready. The primary here cannot schedule (its node selector matches no node)
until the test adds a kwok node that matches.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from kubernetes_asyncio.client import ApiClient
from prometheus_client.parser import text_string_to_metric_families

from canary.kube import resources
from canary.sandbox.nodes import NODE, fake_node
from tests.e2e.cycles import cycle_after_now
from tests.e2e.harness import (
    Controller,
    Recorder,
    apply,
    canary,
    deployment,
    events_including,
    get_canary,
    template,
)
from tests.integration.waiting import eventually

NAME = "podinfo"
POOL_LABEL = "canary.dev/test-pool"


@contextlib.asynccontextmanager
async def _matching_node(api: ApiClient, pool: str) -> AsyncIterator[None]:
    """A kwok node labelled for `pool`, deleted afterwards (nodes are cluster-wide)."""
    node = fake_node(f"pool-{pool}")
    node["metadata"]["labels"][POOL_LABEL] = pool
    await apply(api, node)
    try:
        yield
    finally:
        await resources.delete(api, NODE, node["metadata"]["name"], namespace=None)


async def _requests(controller: Controller) -> dict[tuple[str, str], float]:
    """The controller's API requests so far, by (verb, resource)."""
    url = f"http://127.0.0.1:{controller.port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "canary_api_requests_total":
                where = (sample.labels["verb"], sample.labels["resource"])
                found[where] = found.get(where, 0.0) + sample.value
    return found


def _conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {
        c["type"]: (c["status"], c["reason"], c["message"])
        for c in (obj.get("status") or {}).get("conditions") or []
    }


async def test_an_unready_primary_past_the_deadline_waits_then_initializes(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    pool = namespace  # unique per test: no node matches until the test adds one
    target = deployment(NAME, namespace=namespace)
    target["spec"]["template"] = template(NAME, tag="6.7.0", node_selector={POOL_LABEL: pool})
    manifest = canary(NAME, namespace=namespace, step_weight=10, progress_deadline_seconds=10)
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, target)
        await apply(api, manifest)

        async def stalled() -> dict[str, tuple[str, str, str]]:
            return _conditions(await get_canary(api, NAME, namespace=namespace))

        seen = await eventually(
            stalled, until=lambda c: "Stalled" in c, within=60, what="Stalled=True"
        )
        ready_status, ready_reason, ready_message = seen["Ready"]
        assert (ready_status, ready_reason) == ("False", "PrimaryNotReady"), seen
        assert "beyond the progress deadline of 10s" in ready_message, seen
        assert seen["Stalled"][:2] == ("True", "PrimaryNotReady"), seen
        events = await events_including(api, NAME, namespace=namespace, reason="PrimaryNotReady")
        warnings = [e for e in events if e.type == "Warning"]
        assert [e.reason for e in warnings] == ["PrimaryNotReady"], warnings

        # Waiting sends the cluster nothing: no Service, Deployment or route applied again
        # (a burst of waiting Canaries did that every second and kept the API server from
        # making their primaries ready). Three cycles, woken through the watch, prove it.
        before = await _requests(controller)
        for _ in range(3):
            await cycle_after_now(api, controller, name=NAME, namespace=namespace)
        after = await _requests(controller)
        sent = {
            where: after[where] - before.get(where, 0.0)
            for where in after
            if after[where] > before.get(where, 0.0)
        }
        assert sent == {}, sent

        async with _matching_node(api, pool):
            await recorder.until_phase("Initialized", within=60)

    assert recorder.phases == ["Initializing", "Initialized"], recorder.describe()
    for obj in recorder.canaries:
        for _, _, message in _conditions(obj).values():
            assert "nalysis" not in message, message
    final = _conditions(await get_canary(api, NAME, namespace=namespace))
    assert final["Ready"][:2] == ("True", "Initialized"), final
    assert "Stalled" not in final, final
