"""Manual control through the CLI, as an operator would use it, on a live release."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from functools import partial

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.sandbox.state import SandboxState
from tests.e2e.cycles import cycle_after_now
from tests.e2e.harness import (
    Controller,
    Recorder,
    apply,
    canary,
    deployment,
    events_of,
    get_deployment,
    image_of,
)
from tests.e2e.harness import set_template as release
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")

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
