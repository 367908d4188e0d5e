"""A barrier on the controller process: until it has run a reconcile cycle that began after now.

Proving that something does *not* happen (a suspended or paused Canary does not move) needs a
point after which the controller has certainly looked: a change to the Canary's metadata wakes
its cycle through the watch, and the cycle counter on the controller's /metrics says when one
more has completed. That cycle saw everything written before the change (watch events arrive in
order), so no sleep stands in for it.
"""

from __future__ import annotations

import time
from functools import partial

import aiohttp
from kubernetes_asyncio.client import ApiClient
from prometheus_client.parser import text_string_to_metric_families

from canary.kube import resources
from canary.kube.resources import CANARY
from tests.e2e.harness import TEST_MANAGER, Controller
from tests.integration.waiting import eventually


async def reconcile_cycles(controller: Controller) -> float:
    """How many reconcile cycles the controller has completed, whatever their result."""
    url = f"http://127.0.0.1:{controller.port}/metrics"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url) as response,
    ):
        text = await response.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "canary_reconcile"
        for sample in family.samples
        if sample.name == "canary_reconcile_total"
    )


async def cycle_after_now(
    api: ApiClient, controller: Controller, *, name: str, namespace: str
) -> None:
    """Until the controller has completed a cycle of Canary `name` that began after this call."""
    before = await reconcile_cycles(controller)
    await resources.merge_patch(
        api,
        CANARY,
        name,
        namespace=namespace,
        patch={"metadata": {"annotations": {"e2e.canary.dev/woken": str(time.monotonic())}}},
        field_manager=TEST_MANAGER,
    )
    await eventually(
        partial(reconcile_cycles, controller),
        until=lambda count: count > before,
        within=20,
        what="a reconcile cycle after the change",
    )
