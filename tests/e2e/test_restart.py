"""kill -9 of the controller in the middle of a release, and a new controller process after it.

All state lives in the Canary's status and the TrafficSplit (DESIGN.md §3.1), so the new process
finishes the release where the old one stopped, and never steps sooner than `interval` after the
last step, whichever process made it.
"""

from __future__ import annotations

import signal
import time
from itertools import pairwise

from kubernetes_asyncio.client import ApiClient

from tests.e2e.harness import (
    IMAGE,
    Controllers,
    Recorder,
    apply,
    canary,
    deployment,
    get_deployment,
    image_of,
    set_template,
)

NAME = "podinfo"
INTERVAL = 3.0
JITTER = 0.3  # the recorder sees each change through a watch, a little after it was made


async def test_a_release_survives_kill_9_of_the_controller_without_faster_steps(
    api: ApiClient, namespace: str, controllers: Controllers
) -> None:
    first = await controllers.start()
    manifest = canary(
        NAME,
        namespace=namespace,
        interval=f"{INTERVAL:g}s",
        threshold=3,
        step_weights=[10, 20, 30, 40, 50],
    )
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, manifest)
        await recorder.wait(
            lambda: recorder.phases[-1:] == ["Initialized"], within=30, what="phase Initialized"
        )
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        await recorder.wait(
            lambda: 20 in recorder.canary_weights, within=60, what="canary weight 20"
        )
        # At once: the status may not even record weight 20 yet when the process dies.
        assert first.kill() == -signal.SIGKILL
        killed = time.monotonic()
        assert 30 not in recorder.canary_weights, "the kill came too late to be mid-release"
        await controllers.start()
        outcome = await recorder.outcome(since=released, within=90)

    assert outcome.phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    steps = [s for s in recorder.weights.samples if s.at >= released and s.value[1] > 0]
    gaps = [round(later.at - earlier.at, 2) for earlier, later in pairwise(steps)]
    assert len(gaps) == 4
    assert min(gaps) >= INTERVAL - JITTER, f"steps {gaps} s apart; interval {INTERVAL:g} s"
    assert [s.value[1] for s in steps if s.at > killed] == [30, 40, 50], "steps of the new process"
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"
