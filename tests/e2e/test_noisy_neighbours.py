"""One Canary's hanging webhooks never delay another Canary (issue 9, item 4).

The controller runs with a single `--max-parallel` slot, the harshest setting: a Canary whose
pre-rollout webhook never answers (50 s per attempt, one retry) beside a healthy Canary. The
healthy one must be released from start to promotion while the other's first webhook call is
still pending. Asserted on state (what the hook server has received and still holds, the
Canaries' statuses), with deadlines, never on durations.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from functools import partial

import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient

from tests.e2e.harness import (
    Controllers,
    Recorder,
    apply,
    canary,
    deployment,
    get_canary,
    set_template,
)
from tests.integration.local_http import serving
from tests.integration.waiting import eventually

# Alone: it measures whether steps are late, which tests running beside it would disturb.
pytestmark = pytest.mark.serial

RELEASE_WITHIN = 60.0


class HangingHook:
    """A webhook receiver that never answers: it keeps every request open until it stops."""

    def __init__(self) -> None:
        self.received = 0
        self.open = 0
        self._stop = asyncio.Event()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/hang", self._hang)
        async with serving(app) as url:
            try:
                yield f"{url}/hang"
            finally:
                self._stop.set()

    async def held(self) -> int:
        """How many requests are held open now."""
        return self.open

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.received += 1
        self.open += 1
        try:
            await self._stop.wait()
        finally:
            self.open -= 1
        return web.Response(status=503, text="stopping")


def _without_metrics(manifest: dict[str, object], **analysis: object) -> dict[str, object]:
    spec = manifest["spec"]
    assert isinstance(spec, dict)
    spec["analysis"].update({"metrics": [], **analysis})
    return manifest


async def _phase(api: ApiClient, name: str, namespace: str) -> str:
    status = (await get_canary(api, name, namespace=namespace)).get("status") or {}
    return str(status.get("phase") or "")


async def test_a_hanging_webhook_does_not_delay_another_canarys_release(
    api: ApiClient, namespace: str, controllers: Controllers
) -> None:
    await controllers.start(extra=["--max-parallel=1"])
    hook = HangingHook()
    async with hook.running() as url:
        webhook = {
            "name": "hang",
            "type": "pre-rollout",
            "url": url,
            "timeout": "50s",
            "retries": 1,
        }
        slow = _without_metrics(
            canary("slow", namespace=namespace, interval="60s", step_weights=[50]),
            webhooks=[webhook],
        )
        fast = _without_metrics(
            canary("fast", namespace=namespace, interval="1s", step_weights=[20, 40])
        )
        for name, manifest in (("slow", slow), ("fast", fast)):
            await apply(api, deployment(name, namespace=namespace))
            await apply(api, manifest)
        for name in ("slow", "fast"):
            await eventually(
                partial(_phase, api, name, namespace),
                until=lambda phase: phase == "Initialized",
                within=30,
                what=f"{name} Initialized",
            )
        async with Recorder(api, namespace=namespace, name="fast").running() as recorder:
            await set_template(api, "slow", namespace=namespace, tag="6.7.1")
            await eventually(
                hook.held,
                until=lambda held: held == 1,
                within=30,
                what="the slow Canary's pre-rollout call, held open",
            )
            released = time.monotonic()
            await set_template(api, "fast", namespace=namespace, tag="6.7.1")
            outcome = await recorder.outcome(since=released, within=RELEASE_WITHIN)
            # Taken at once: the slow Canary's first call (all its attempts) is still pending.
            received, still_open = hook.received, hook.open

        assert outcome.phase == "Succeeded", recorder.describe()
        assert recorder.canary_weights[-4:] == [0, 20, 40, 0], recorder.describe()
        assert (received, still_open) == (1, 1), "the slow Canary's first webhook call ended"
        slow_status = (await get_canary(api, "slow", namespace=namespace))["status"]
        assert slow_status["phase"] == "Progressing"
        assert slow_status.get("canaryWeight", 0) == 0
