"""An API server outage is never a verdict (issue 9, item 6): kube-apiserver is paused with
SIGSTOP for 30 s in the middle of two releases, then resumed with SIGCONT.

While it is paused the controller cannot write, so it must hold the analysis: a healthy version
records no failed check and is promoted, a faulty one is rolled back for its errors (its success
rate), never for "no data" or "no value". The pause must show within the heartbeat's timeout on
the controller's /metrics and /healthz and in its log.

This pauses the API server of the sandbox the suite uses (in CI, the run's own sandbox): run it
locally only against a sandbox of your own (`CANARY_SANDBOX_DIR=... canary sandbox up`), never a
shared one. The test always resumes the API server (SIGCONT in a `finally`) and waits until it
answers again before it ends.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from datetime import datetime
from functools import partial
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio.client import ApiClient
from prometheus_client.parser import text_string_to_metric_families

from canary.kube import resources
from canary.kube.resources import TRAFFIC_SPLIT
from canary.sandbox.state import SandboxState
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    RATE_ANNOTATION,
    TEST_MANAGER,
    CanaryView,
    Controller,
    Event,
    Recorder,
    apply,
    canary,
    deployment,
    events_of,
    get_canary,
    set_template,
)
from tests.integration.waiting import eventually

# Alone: it pauses the shared API server, which tests running beside it would disturb.
pytestmark = pytest.mark.serial

PAUSE = 30.0  # seconds kube-apiserver stays stopped
INTERVAL = "5s"
RUN_WITHIN = 150.0
BACK_WITHIN = 60.0  # for the API server to answer again after SIGCONT
# The heartbeat notices a paused API server within this many seconds (2 s without an answer, 1 s
# between heartbeats); a tick taken earlier used data gathered before the pause.
NOTICED_WITHIN = 3.0


def _apiserver_pid(sandbox: SandboxState) -> int:
    (record,) = [p for p in sandbox.processes if p.name == "kube-apiserver"]
    return record.pid


async def _metric(controller: Controller, name: str, **labels: str) -> float:
    """The sum of the samples called `name` with `labels` on the controller's /metrics."""
    url = f"http://127.0.0.1:{controller.port}/metrics"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url) as response,
    ):
        text = await response.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def _healthz(controller: Controller) -> tuple[int, str]:
    url = f"http://127.0.0.1:{controller.port}/healthz"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url) as response,
    ):
        return response.status, await response.text()


async def _api_answers(api: ApiClient) -> bool:
    try:
        async with asyncio.timeout(3):
            await resources.version(api)
    except Exception:  # noqa: BLE001 - any failure means: not yet
        return False
    return True


async def _assert_the_outage_shows(controller: Controller, *, errors_before: float) -> None:
    """Within the heartbeat's timeout the controller says so: metrics, /healthz, its log."""
    pending = await eventually(
        partial(_metric, controller, "canary_api_request_pending_seconds"),
        until=lambda seconds: seconds >= 2,
        within=15,
        what="a pending API request on /metrics",
    )
    assert pending >= 2
    code, text = await eventually(
        partial(_healthz, controller),
        until=lambda answer: "degraded: the API server" in answer[1],
        within=15,
        what="/healthz naming the API server",
    )
    assert code == 200, text  # a restart cannot cure the API server: still live
    await eventually(
        partial(_metric, controller, "canary_api_requests_total", code="error"),
        until=lambda errors: errors > errors_before,
        within=15,
        what="a request without an answer counted as error",
    )
    assert '"event": "api_server_not_answering"' in controller.log.read_text()


def _counted_during(recorder: Recorder, window: tuple[float, float]) -> list[CanaryView]:
    """The statuses that counted a tick (a step, or a failed check) taken within `window`
    (wall-clock seconds), by the tick's own time, `lastStepTime`."""
    counted = []
    views = recorder.statuses.values
    for previous, view in itertools.pairwise(views):
        ticked = view.weight > previous.weight or view.failed_checks > previous.failed_checks
        if ticked and view.last_step:
            at = datetime.fromisoformat(view.last_step.replace("Z", "+00:00")).timestamp()
            if window[0] < at < window[1]:
                counted.append(view)
    return counted


async def _set_request_rate(api: ApiClient, namespace: str, name: str) -> None:
    """100 requests a second through the simulator, so checks see traffic from the first tick."""
    await resources.merge_patch(
        api,
        TRAFFIC_SPLIT,
        name,
        namespace=namespace,
        patch={"metadata": {"annotations": {RATE_ANNOTATION: "100"}}},
        field_manager=TEST_MANAGER,
    )


async def _canary_events(api: ApiClient, name: str, namespace: str) -> list[Event]:
    return await events_of(api, name, namespace=namespace)


def _manifest(name: str, namespace: str, *, threshold: int) -> dict[str, Any]:
    return canary(
        name,
        namespace=namespace,
        interval=INTERVAL,
        threshold=threshold,
        step_weight=5,
        max_weight=50,
        progress_deadline_seconds=600,
    )


async def test_a_paused_api_server_holds_the_analysis_and_is_never_a_verdict(
    api: ApiClient, namespace: str, sandbox: SandboxState, controller: Controller
) -> None:
    good = Recorder(api, namespace=namespace, name="good")
    bad = Recorder(api, namespace=namespace, name="bad")
    async with good.running(), bad.running():
        for name, threshold in (("good", 2), ("bad", 4)):
            await apply(api, deployment(name, namespace=namespace))
            await apply(api, _manifest(name, namespace, threshold=threshold))
        for recorder in (good, bad):
            await recorder.until_phase("Initialized", within=30)
            await _set_request_rate(api, namespace, recorder.name)
        released = time.monotonic()
        await set_template(api, "good", namespace=namespace, tag="6.7.1")
        await set_template(
            api, "bad", namespace=namespace, tag="6.7.1", annotations={ERROR_RATE_ANNOTATION: "0.3"}
        )
        # Mid-release: the good version has stepped, the bad one has failed a check on its value.
        await good.wait(lambda: max(good.canary_weights, default=0) >= 10, within=60, what="10 %")
        await bad.wait(
            lambda: bad.statuses.last is not None and bad.statuses.last.failed_checks >= 1,
            within=60,
            what="a failed check of the bad version",
        )
        assert good.statuses.last is not None
        assert good.statuses.last.phase == "Progressing"
        assert bad.statuses.last is not None
        assert bad.statuses.last.phase == "Progressing"
        errors_before = await _metric(controller, "canary_api_requests_total", code="error")

        pid = _apiserver_pid(sandbox)
        os.kill(pid, signal.SIGSTOP)
        paused_at = time.time()
        try:
            paused = time.monotonic()
            await _assert_the_outage_shows(controller, errors_before=errors_before)
            # Not a synchronisation: the outage itself lasts this long.
            await asyncio.sleep(max(0.0, PAUSE - (time.monotonic() - paused)))
        finally:
            resumed_at = time.time()
            os.kill(pid, signal.SIGCONT)
            await eventually(
                partial(_api_answers, api), until=bool, within=BACK_WITHIN, what="the API server"
            )

        good_outcome = await good.outcome(since=released, within=RUN_WITHIN)
        bad_outcome = await bad.outcome(since=released, within=RUN_WITHIN)

    outage = (paused_at + NOTICED_WITHIN, resumed_at)
    assert _counted_during(good, outage) == [], good.describe()
    assert _counted_during(bad, outage) == [], bad.describe()
    assert good_outcome.phase == "Succeeded", good.describe()
    assert [v.failed_checks for v in good.statuses.values if v.failed_checks] == [], good.describe()
    good_events = await _canary_events(api, "good", namespace)
    assert [e for e in good_events if e.reason in {"CheckFailed", "Rollback"}] == []
    assert any(e.reason == "AnalysisHeld" for e in good_events), good_events

    assert bad_outcome.phase == "Failed", bad.describe()
    await _assert_rolled_back_for_its_errors(api, namespace)


async def _assert_rolled_back_for_its_errors(api: ApiClient, namespace: str) -> None:
    status = (await get_canary(api, "bad", namespace=namespace))["status"]
    checks = {check["name"]: check for check in status.get("checks") or []}
    success = checks["request-success-rate"]
    assert success["verdict"] == "Fail", success
    assert success["value"] is not None, success
    bad_events = await _canary_events(api, "bad", namespace)
    rollback = [e for e in bad_events if e.reason == "Rollback"]
    assert rollback, bad_events
    assert "request-success-rate" in rollback[0].message, bad_events
    verdicts = [e.message for e in bad_events if e.reason in {"CheckFailed", "Rollback"}]
    assert not [m for m in verdicts if "no data" in m or "no value" in m], verdicts
