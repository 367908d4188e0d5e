"""Manual control through the CLI, as an operator would use it, on a live release."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Literal

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.controller.manual import make_request
from canary.core.decide import PAUSED_MESSAGE
from canary.kube import resources
from canary.kube.resources import CANARY
from canary.sandbox.state import SandboxState
from tests.e2e.apiproxy import RecordingProxy
from tests.e2e.cycles import cycle_after_now, reconcile_cycles
from tests.e2e.harness import (
    TEST_MANAGER,
    Controller,
    Controllers,
    Recorder,
    apply,
    canary,
    deployment,
    events_of,
    get_canary,
    get_deployment,
    image_of,
)
from tests.e2e.harness import set_template as release
from tests.integration.waiting import eventually

NAME = "podinfo"


def _canary_cli(
    sandbox: SandboxState, namespace: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": sandbox.kubeconfig}
    argv = [sys.executable, "-m", "canary.cli.main", *args, NAME, "-n", namespace]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False, timeout=60)


async def _started(api: ApiClient, recorder: Recorder, namespace: str, *, tag: str) -> float:
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(
        api,
        canary(
            NAME, namespace=namespace, interval="2s", threshold=3, step_weights=[10, 20, 30, 40, 50]
        ),
    )
    await recorder.until_phase("Initialized", within=30)
    released = time.monotonic()
    await release(api, NAME, namespace=namespace, tag=tag)
    await recorder.wait(
        lambda: (recorder.weights.last or (100, 0))[1] >= 10, within=30, what="weight 10"
    )
    return released


@pytest.mark.usefixtures("controller")
async def test_abort_rolls_back_now_and_promote_skips_the_remaining_steps(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        released = await _started(api, recorder, namespace, tag="6.7.1")
        aborted = _canary_cli(sandbox, namespace, "abort")
        assert aborted.returncode == 0, aborted.stderr
        assert "will be rolled back now" in aborted.stdout
        outcome = await recorder.outcome(since=released, within=60)
        assert outcome.phase == "Failed", recorder.describe()
        assert max(recorder.canary_weights) < 50, "aborted before the schedule ran out"
        primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
        assert image_of(primary).endswith(":6.7.0")

        # Nothing is under analysis now: abort and promote say so instead of recording anything.
        refused = _canary_cli(sandbox, namespace, "promote")
        assert refused.returncode == 1
        assert "nothing to promote" in refused.stderr

        released = time.monotonic()
        await release(api, NAME, namespace=namespace, tag="6.7.2")
        await recorder.wait(
            lambda: (
                recorder.statuses.last is not None
                and recorder.statuses.last.phase == "Progressing"
                and (recorder.weights.last or (100, 0))[1] >= 10
            ),
            within=30,
            what="the second release at weight 10",
        )
        promoted = _canary_cli(sandbox, namespace, "promote")
        assert promoted.returncode == 0, promoted.stderr
        outcome = await recorder.outcome(since=released, within=60)
        assert outcome.phase == "Succeeded", recorder.describe()
    weights_after_second_release = recorder.canary_weights[recorder.canary_weights.index(0, 1) :]
    assert max(weights_after_second_release) < 50, recorder.describe()
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary).endswith(":6.7.2")


@pytest.mark.usefixtures("controller")
async def test_retry_runs_the_failed_revision_again_without_changing_the_target(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        released = await _started(api, recorder, namespace, tag="6.7.1")
        refused = _canary_cli(sandbox, namespace, "retry")
        assert refused.returncode == 1
        assert "nothing to retry" in refused.stderr
        assert _canary_cli(sandbox, namespace, "abort").returncode == 0
        failed = await recorder.outcome(since=released, within=60)
        assert failed.phase == "Failed", recorder.describe()
        target_before = await get_deployment(api, NAME, namespace=namespace)

        retried_at = time.monotonic()
        retried = _canary_cli(sandbox, namespace, "retry")
        assert retried.returncode == 0, retried.stderr
        assert f"revision {failed.applied} will be analysed again" in retried.stdout
        outcome = await recorder.outcome(since=retried_at, within=90)
        assert outcome.phase == "Succeeded", recorder.describe()
        assert outcome.applied == outcome.promoted == failed.applied

    target_after = await get_deployment(api, NAME, namespace=namespace)
    assert target_after["spec"]["template"] == target_before["spec"]["template"]
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary).endswith(":6.7.1")
    # One retry, one run: after the failure, a single run to Succeeded.
    after = recorder.phases[recorder.phases.index("Failed") :]
    assert after[:2] == ["Failed", "Progressing"], after
    assert after[-1] == "Succeeded", after
    assert "Failed" not in after[1:], after


async def test_pause_holds_a_release_where_it_is_and_resume_continues_it(
    api: ApiClient, namespace: str, sandbox: SandboxState, controller: Controller
) -> None:
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        released = await _started(api, recorder, namespace, tag="6.7.1")
        paused = _canary_cli(sandbox, namespace, "pause")
        assert paused.returncode == 0, paused.stderr
        await eventually(
            partial(events_of, api, NAME, namespace=namespace),
            until=lambda events: any(e.reason == "Paused" for e in events),
            within=20,
            what="a Paused event",
        )
        held = recorder.weights.last
        # Several intervals' worth of cycles later, nothing has moved.
        for _ in range(3):
            await cycle_after_now(api, controller, name=NAME, namespace=namespace)
        assert recorder.weights.last == held, recorder.describe()
        assert recorder.statuses.last is not None
        assert recorder.statuses.last.phase == "Progressing"
        resumed = _canary_cli(sandbox, namespace, "resume")
        assert resumed.returncode == 0, resumed.stderr
        outcome = await recorder.outcome(since=released, within=90)
        assert outcome.phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()


def _status_write(name: str, *, weight: int) -> Callable[[str, str, bytes], bool]:
    """Matches the controller's status write of Canary `name` that records canary `weight`."""

    def matches(method: str, path: str, body: bytes) -> bool:
        if method != "PUT" or not path.endswith(f"/canaries/{name}/status"):
            return False
        status = json.loads(body or b"{}").get("status") or {}
        return bool(status.get("canaryWeight") == weight)

    return matches


async def _hold_release(api: ApiClient, namespace: str, *, by: Literal["pause", "suspend"]) -> None:
    """Stop the release as `canary pause` does (in this process: the race wants it quick), or
    with Flagger's `spec.suspend: true`."""
    if by == "pause":
        await make_request(api, namespace=namespace, name=NAME, request="pause")
    else:
        await _suspend(api, namespace, suspend=True)


async def _let_go(
    api: ApiClient, sandbox: SandboxState, namespace: str, *, by: Literal["pause", "suspend"]
) -> None:
    if by == "pause":
        resumed = _canary_cli(sandbox, namespace, "resume")
        assert resumed.returncode == 0, resumed.stderr
    else:
        await _suspend(api, namespace, suspend=False)


async def _suspend(api: ApiClient, namespace: str, *, suspend: bool) -> None:
    await resources.merge_patch(
        api,
        CANARY,
        NAME,
        namespace=namespace,
        patch={"spec": {"suspend": suspend}},
        field_manager=TEST_MANAGER,
    )


@pytest.mark.parametrize("by", ["pause", "suspend"])
async def test_a_pause_racing_a_step_leaves_the_status_at_the_routes_weight(
    api: ApiClient, namespace: str, controllers: Controllers, by: Literal["pause", "suspend"]
) -> None:
    """The race, forced: the controller has set the route to 20 and sent the status write that
    records it; the proxy holds that write while the release is paused (which changes the
    Canary's resourceVersion), then lets it through, so the API server answers 409. While
    paused no step is taken; the status must still say 20, as the route does, and a resume
    must go on from 20: neither back to 10 nor over a step."""
    sandbox = controllers.sandbox
    proxy = RecordingProxy(sandbox, controllers.directory / "proxy")
    step = proxy.hold(_status_write(NAME, weight=20))
    async with (
        proxy.running() as kubeconfig,
        Recorder(api, namespace=namespace, name=NAME).running() as recorder,
    ):
        controller = await controllers.start(kubeconfig=kubeconfig)
        released = await _started(api, recorder, namespace, tag="6.7.1")
        await recorder.wait(step.arrived.is_set, within=60, what="the status write of weight 20")
        await recorder.wait(
            lambda: recorder.weights.last == (80, 20), within=10, what="the route at 20"
        )
        before = await reconcile_cycles(controller)
        await _hold_release(api, namespace, by=by)
        step.release.set()
        await eventually(
            partial(reconcile_cycles, controller),
            until=lambda count: count > before,
            within=30,
            what="the end of the cycle whose status write was held",
        )
        # The cycles that run while paused (a paused one writes its message) change nothing.
        await cycle_after_now(api, controller, name=NAME, namespace=namespace)
        await cycle_after_now(api, controller, name=NAME, namespace=namespace)
        status = (await get_canary(api, NAME, namespace=namespace))["status"]
        assert recorder.weights.last == (80, 20), recorder.describe()
        assert status["canaryWeight"] == 20, (status, recorder.describe())
        assert status["phase"] == "Progressing", status
        if by == "pause":  # the paused cycle ran, and wrote that it is paused
            ready = next(c for c in status["conditions"] if c["type"] == "Ready")
            assert ready["message"] == PAUSED_MESSAGE, status
        paused_at = recorder.statuses.samples[-1].at

        await _let_go(api, sandbox, namespace, by=by)
        outcome = await recorder.outcome(since=released, within=90)
        assert outcome.phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    # From the pause on, the status went on from 20, one step at a time.
    weights = [
        s.value.weight
        for s in recorder.statuses.samples
        if s.at >= paused_at and s.value.phase == "Progressing"
    ]
    steps = [w for i, w in enumerate(weights) if i == 0 or weights[i - 1] != w]
    assert steps == [20, 30, 40, 50], recorder.describe()
