"""`skipAnalysis`, `suspend`, `stepWeightPromotion` and `canaryReadyThreshold` end to end, with
the controller as its own process."""

from __future__ import annotations

import time

from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, DEPLOYMENT
from tests.e2e.cycles import cycle_after_now
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    TEST_MANAGER,
    Controller,
    Recorder,
    apply,
    canary,
    deployment,
    events_including,
    events_of,
    get_deployment,
    image_of,
    set_template,
    template,
)

NAME = "podinfo"


async def _initialized(api: ApiClient, recorder: Recorder, namespace: str, **spec: object) -> None:
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=2, step_weight=25)
    manifest["spec"].update(spec)
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(api, manifest)
    await recorder.until_phase("Initialized", within=30)


async def test_skip_analysis_promotes_without_checks_or_traffic(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    del controller  # running for the test
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await _initialized(api, recorder, namespace, skipAnalysis=True)
        released = time.monotonic()
        # A version that fails a third of its requests: analysis would roll it back.
        await set_template(
            api, NAME, namespace=namespace, tag="6.7.1", annotations={ERROR_RATE_ANNOTATION: "0.3"}
        )
        outcome = await recorder.outcome(since=released, within=60)
        assert outcome.phase == "Succeeded", recorder.describe()

    assert recorder.canary_weights == [0], recorder.describe()
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"
    reasons = {event.reason for event in await events_of(api, NAME, namespace=namespace)}
    assert "CheckFailed" not in reasons
    assert "Rollback" not in reasons


async def test_a_suspended_canary_releases_nothing_until_it_is_resumed(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await _initialized(api, recorder, namespace)
        await resources.merge_patch(
            api,
            CANARY,
            NAME,
            namespace=namespace,
            patch={"spec": {"suspend": True}},
            field_manager=TEST_MANAGER,
        )
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        # The cycle after this has seen the new template (cycles.py says why).
        await cycle_after_now(api, controller, name=NAME, namespace=namespace)
        assert recorder.phases == ["Initializing", "Initialized"], recorder.describe()
        target = await get_deployment(api, NAME, namespace=namespace)
        assert target["spec"]["replicas"] == 0, "a suspended Canary scales nothing up"

        resumed = time.monotonic()
        await resources.merge_patch(
            api,
            CANARY,
            NAME,
            namespace=namespace,
            patch={"spec": {"suspend": False}},
            field_manager=TEST_MANAGER,
        )
        outcome = await recorder.outcome(since=resumed, within=90)
        assert outcome.phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 25, 50, 75, 100, 0], recorder.describe()


async def test_step_weight_promotion_shifts_traffic_back_to_the_promoted_primary_gradually(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    del controller  # running for the test
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        manifest = canary(
            NAME, namespace=namespace, interval="2s", threshold=3, step_weights=[20, 40]
        )
        manifest["spec"]["analysis"]["stepWeightPromotion"] = 20
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, manifest)
        await recorder.until_phase("Initialized", within=30)
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        outcome = await recorder.outcome(since=released, within=90)
        assert outcome.phase == "Succeeded", recorder.describe()

    # Up to 40 while analysed; back down by 20 per interval once the primary runs 6.7.1.
    assert recorder.canary_weights == [0, 20, 40, 20, 0], recorder.describe()
    stepping_back = [s.value for s in recorder.statuses.samples if s.value.phase == "Promoting"]
    assert {view.weight for view in stepping_back} >= {40, 20}, recorder.describe()


def _spread_out(tag: str) -> dict[str, object]:
    """A template whose pods refuse to share a node with each other: of 4 replicas on the
    sandbox's 3 nodes, 3 run and 1 stays Pending."""
    new = template(NAME, tag=tag)
    new["metadata"]["labels"]["spread"] = tag
    new["spec"]["affinity"] = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"spread": tag}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    return new


async def _released_spread_out(
    api: ApiClient, recorder: Recorder, namespace: str, *, ready_threshold: int
) -> float:
    """Initialize a 4-replica podinfo, then release a version that can only run 3 of 4 pods."""
    target = deployment(NAME, namespace=namespace)
    target["spec"]["replicas"] = 4
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=3, step_weight=10)
    manifest["spec"]["progressDeadlineSeconds"] = 15
    manifest["spec"]["analysis"]["canaryReadyThreshold"] = ready_threshold
    await apply(api, target)
    await apply(api, manifest)
    await recorder.until_phase("Initialized")
    released = time.monotonic()
    await resources.merge_patch(
        api,
        DEPLOYMENT,
        NAME,
        namespace=namespace,
        patch={"spec": {"template": _spread_out("6.7.1")}},
        field_manager=TEST_MANAGER,
    )
    return released


async def test_a_canary_below_its_ready_threshold_never_gets_traffic(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    del controller  # running for the test
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        released = await _released_spread_out(api, recorder, namespace, ready_threshold=100)
        outcome = await recorder.outcome(since=released, within=60)
    assert outcome.phase == "Failed", recorder.describe()
    assert recorder.canary_weights == [0], recorder.describe()
    await events_including(api, NAME, namespace=namespace, reason="DeadlineExceeded")


async def test_canary_ready_threshold_lets_a_partly_available_canary_progress(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    del controller  # running for the test
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await _released_spread_out(api, recorder, namespace, ready_threshold=75)
        # 3 of 4 canary pods are available: enough for 75 %, so traffic moves.
        await recorder.wait(
            lambda: max(recorder.canary_weights) >= 20, within=60, what="canary weight 20"
        )
    target = await get_deployment(api, NAME, namespace=namespace)
    status = target["status"]
    assert (status.get("availableReplicas"), status.get("updatedReplicas")) == (3, 4), status
