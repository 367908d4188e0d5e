"""What Flux and Argo CD see of real releases: every version of the Canary the controller writes,
judged by the real kstatus library (tests/kstatus) and by the Argo CD health script the project
ships (examples/argocd/canary-health.lua), at every phase.

A release promoted and one rolled back, a closed gate, and a spec the controller refuses: the
Canary reads InProgress while anything is in flight or before the controller judged it, Current
only at rest in a good state, and Failed for a rollback or a refusal, never InProgress forever.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.sandbox.ports import free_ports
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    Recorder,
    apply,
    canary,
    deployment,
    get_canary,
    set_template,
)
from tests.kstatus.judge import Judge, Reading

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
RUN_WITHIN = 90.0
AT_REST = frozenset({"Initialized", "Succeeded"})
ARGOCD = {"InProgress": "Progressing", "Current": "Healthy", "Failed": "Degraded"}


def _expected(obj: dict[str, Any]) -> str:
    """What kstatus must read for one version of the Canary."""
    status = obj.get("status") or {}
    judged = status.get("observedGeneration") == obj["metadata"]["generation"]
    phase = status.get("phase")
    ready: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {}
    )
    stalled = any(
        c.get("type") == "Stalled" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )
    waiting = ready.get("reason") == "PrimaryNotReady"  # a hold: Failed only once stalled
    if judged and ready.get("status") == "False" and (stalled or not waiting):
        return "Failed"  # rolled back, refused by the controller, or held past its deadline
    if not judged or phase is None:
        return "InProgress"
    return "Current" if phase in AT_REST else "InProgress"


def _readings(kstatus: Judge, recorder: Recorder) -> list[tuple[str, str, Reading]]:
    """(phase, expected, kstatus's reading) of every version of the Canary recorded; Argo CD's
    health script must agree with kstatus on each."""
    readings = kstatus.read_all(recorder.canaries)
    health = kstatus.argocd_all(recorder.canaries)
    disagree = [
        (r, h) for r, h in zip(readings, health, strict=True) if ARGOCD[r.status] != h.status
    ]
    assert not disagree, disagree
    return [
        (str((obj.get("status") or {}).get("phase") or "-"), _expected(obj), reading)
        for obj, reading in zip(recorder.canaries, readings, strict=True)
    ]


async def test_a_promoted_then_a_rolled_back_release_read_right_at_every_phase(
    api: ApiClient, namespace: str, kstatus: Judge
) -> None:
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=2, step_weights=[20, 40])
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, manifest)
        await recorder.until_phase("Initialized")
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        promoted = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert promoted.phase == "Succeeded", recorder.describe()
        released = time.monotonic()
        await set_template(
            api, NAME, namespace=namespace, tag="6.7.2", annotations={ERROR_RATE_ANNOTATION: "0.5"}
        )
        rolled_back = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert rolled_back.phase == "Failed", recorder.describe()

    seen = _readings(kstatus, recorder)
    wrong = [(phase, expected, r) for phase, expected, r in seen if r.status != expected]
    assert not wrong, wrong
    first_phase, _, first = seen[0]
    assert (first_phase, first.status) == ("-", "InProgress"), "a new Canary is not Current"
    by_phase = {phase: reading.status for phase, _, reading in seen if phase != "-"}
    assert by_phase["Initialized"] == by_phase["Succeeded"] == "Current", by_phase
    assert by_phase["Progressing"] == "InProgress", by_phase
    assert by_phase["Failed"] == "Failed", by_phase
    assert {"Promoting", "Finalising"} & set(by_phase), by_phase
    final = kstatus.read(await get_canary(api, NAME, namespace=namespace))
    assert final.status == "Failed"
    assert "request-success-rate" in final.message, final  # why, for the GitOps tool's user


async def test_a_closed_gate_reads_in_progress(
    api: ApiClient, namespace: str, kstatus: Judge
) -> None:
    (closed,) = free_ports(1)  # nothing listens there: the gate never opens
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=2, step_weights=[20])
    manifest["spec"]["analysis"]["webhooks"] = [
        {
            "name": "start",
            "type": "confirm-rollout",
            "url": f"http://127.0.0.1:{closed}/gate/check",
            "timeout": "1s",
        }
    ]
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, manifest)
        await recorder.until_phase("Initialized")
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        await recorder.until_phase("Waiting")

    waiting = kstatus.read(await get_canary(api, NAME, namespace=namespace))
    assert waiting.status == "InProgress", waiting
    wrong = [(p, e, r) for p, e, r in _readings(kstatus, recorder) if r.status != e]
    assert not wrong, wrong


async def test_a_spec_the_controller_refuses_reads_failed(
    api: ApiClient, namespace: str, kstatus: Judge
) -> None:
    """`provider: kubernetes` switches all traffic at once: stepWeights without iterations
    cannot run, and the controller refuses it (Unsupported) before creating anything."""
    manifest = canary(NAME, namespace=namespace, interval="2s", step_weights=[20])
    manifest["spec"]["provider"] = "kubernetes"
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, manifest)
        await recorder.wait(
            lambda: any(_expected(obj) == "Failed" for obj in recorder.canaries),
            within=30,
            what="the Canary refused",
        )

    refused = kstatus.read(await get_canary(api, NAME, namespace=namespace))
    assert refused.status == "Failed", refused
    assert "spec.analysis.stepWeight" in refused.message, refused
    seen = _readings(kstatus, recorder)
    assert [p for p, e, r in seen if r.status != e] == [], seen
    assert (seen[0][2].status, seen[-1][2].status) == ("InProgress", "Failed"), seen
