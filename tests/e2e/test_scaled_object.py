"""Releases of a Deployment scaled by a KEDA ScaledObject (`spec.autoscalerRef` of kind
ScaledObject), the controller running as its own process, promoted and rolled back.

The sandbox has KEDA's ScaledObject CRD but no KEDA operator, so these tests judge what the
controller writes: the primary's `<so>-primary` (scaling the primary, its query rewritten for
it), the target's ScaledObject paused at zero replicas outside a run and resumed for the run
(the order of its pause states, from a watch), and the release's outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, DEPLOYMENT, SCALED_OBJECT, TRAFFIC_SPLIT, ResourceKind
from canary.kube.watch import watch
from canary.targets.scaled_object import is_paused
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    RATE_ANNOTATION,
    REPOSITORY,
    TEST_MANAGER,
    Recorder,
    apply,
    canary,
    deployment,
    get_deployment,
    image_of,
    set_template,
)
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")  # one controller process per test

T = TypeVar("T")
NAME = "podinfo"
SO = "podinfo-so"
SO_MIN = 3  # above the primary's 2: a run starts the canary at the ScaledObject's minimum
INITIALIZED_WITHIN = 30.0
RUN_WITHIN = 90.0


def _scaled_object(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": SO, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"name": NAME},
            "minReplicaCount": SO_MIN,
            "maxReplicaCount": 5,
            "triggers": [
                {
                    "type": "prometheus",
                    "metadata": {
                        "serverAddress": "http://127.0.0.1:9090",
                        "query": f'sum(rate(http_requests_total{{ app="{NAME}" }}[30s]))',
                        "threshold": "5",
                    },
                }
            ],
        },
    }


def _canary(namespace: str) -> dict[str, Any]:
    manifest = canary(NAME, namespace=namespace, interval="3s", threshold=2, step_weight=25)
    manifest["spec"]["analysis"]["maxWeight"] = 50
    manifest["spec"]["autoscalerRef"] = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "name": SO,
    }
    return manifest


@contextlib.asynccontextmanager
async def _history(
    api: ApiClient, namespace: str, kind: ResourceKind, name: str, of: Callable[[Any], T]
) -> AsyncIterator[list[T]]:
    """Every change of `of(obj)` of the object `name`, in order, from a watch."""
    seen: list[T] = []
    listed = asyncio.Event()

    async def follow() -> None:
        async for event in watch(api, kind, namespace=namespace):
            if event.kind == "DELETED":
                continue
            for obj in event.items if event.kind == "SYNCED" else (event.object,):
                value = of(obj)
                if obj["metadata"]["name"] == name and (not seen or seen[-1] != value):
                    seen.append(value)
            listed.set()

    task = asyncio.create_task(follow(), name=f"follow {kind.kind} {name}")
    try:
        await asyncio.wait_for(listed.wait(), timeout=30)
        yield seen
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _pause_states(api: ApiClient, namespace: str) -> AbstractAsyncContextManager[list[bool]]:
    """Every change of the target ScaledObject's pause state."""
    return _history(api, namespace, SCALED_OBJECT, SO, is_paused)


def _replicas(obj: Any) -> int:
    return int(obj["spec"].get("replicas") or 0)


async def _initialized(api: ApiClient, namespace: str, recorder: Recorder) -> None:
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(api, _scaled_object(namespace))
    await apply(api, _canary(namespace))
    await recorder.until_phase("Initialized", within=INITIALIZED_WITHIN)


async def _assert_primary_scaled_object(api: ApiClient, namespace: str) -> None:
    primary = await resources.get(api, SCALED_OBJECT, f"{SO}-primary", namespace=namespace)
    assert primary is not None
    assert primary["spec"]["scaleTargetRef"] == {"name": f"{NAME}-primary"}
    assert primary["spec"]["triggers"][0]["metadata"]["query"] == (
        f'sum(rate(http_requests_total{{ app="{NAME}-primary" }}[30s]))'
    )
    assert not is_paused(primary)


async def _target_replicas(api: ApiClient, namespace: str) -> int:
    return int((await get_deployment(api, NAME, namespace=namespace))["spec"].get("replicas") or 0)


async def test_a_release_scaled_by_keda_is_promoted(api: ApiClient, namespace: str) -> None:
    async with (
        _pause_states(api, namespace) as paused,
        _history(api, namespace, DEPLOYMENT, NAME, _replicas) as target_replicas,
        Recorder(api, namespace=namespace, name=NAME).running() as recorder,
    ):
        await _initialized(api, namespace, recorder)
        await _assert_primary_scaled_object(api, namespace)
        assert paused == [False, True], "paused from the initialization"
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()
        await recorder.wait(
            lambda: paused[-1] and target_replicas[-1] == 0,
            within=10,
            what="the target's ScaledObject paused again and the target parked",
        )

    assert paused == [False, True, False, True], "resumed for the run only"
    # Parked at 0, run within the ScaledObject's bounds (its minimum, above the primary's 2).
    assert target_replicas == [2, 0, SO_MIN, 0], target_replicas
    assert recorder.canary_weights == [0, 25, 50, 0], recorder.describe()
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"
    await _assert_primary_scaled_object(api, namespace)
    await eventually(
        lambda: _target_replicas(api, namespace),
        until=lambda replicas: replicas == 0,
        within=20,
        what="the target scaled to 0 after the promotion",
    )


async def test_a_faulty_release_scaled_by_keda_is_rolled_back(
    api: ApiClient, namespace: str
) -> None:
    async with (
        _pause_states(api, namespace) as paused,
        Recorder(api, namespace=namespace, name=NAME).running() as recorder,
    ):
        await _initialized(api, namespace, recorder)
        initial = recorder.statuses.last
        assert initial is not None
        await resources.merge_patch(  # 100 requests a second: failures show from the first
            api,
            TRAFFIC_SPLIT,
            NAME,
            namespace=namespace,
            patch={"metadata": {"annotations": {RATE_ANNOTATION: "100"}}},
            field_manager=TEST_MANAGER,
        )
        released = time.monotonic()
        await set_template(
            api, NAME, namespace=namespace, tag="6.7.1", annotations={ERROR_RATE_ANNOTATION: "0.3"}
        )
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Failed", recorder.describe()
        await recorder.wait(
            lambda: paused[-1], within=10, what="the target's ScaledObject paused again"
        )

    assert paused == [False, True, False, True], "resumed for the run only"
    assert outcome.promoted == initial.promoted
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.0"
    await _assert_primary_scaled_object(api, namespace)
    await eventually(
        lambda: _target_replicas(api, namespace),
        until=lambda replicas: replicas == 0,
        within=20,
        what="the target scaled to 0 after the rollback",
    )


async def test_deleting_a_canary_with_revert_on_deletion_resumes_the_scaled_object(
    api: ApiClient, namespace: str
) -> None:
    manifest = _canary(namespace)
    manifest["spec"]["revertOnDeletion"] = True
    async with (
        _pause_states(api, namespace) as paused,
        Recorder(api, namespace=namespace, name=NAME).running() as recorder,
    ):
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, _scaled_object(namespace))
        await apply(api, manifest)
        await recorder.until_phase("Initialized", within=INITIALIZED_WITHIN)
        assert paused == [False, True]
        await resources.delete(api, CANARY, NAME, namespace=namespace)
        await eventually(
            lambda: resources.get(api, CANARY, NAME, namespace=namespace),
            until=lambda found: found is None,
            within=60,
            what="the Canary reverted and gone",
        )
        # As Flagger does: the target goes back to KEDA, not left paused at zero for ever.
        await recorder.wait(
            lambda: paused == [False, True, False], within=10, what="the ScaledObject resumed"
        )
    assert await _target_replicas(api, namespace) > 0


def _keda_example(name: str, namespace: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(
        (REPOSITORY / "examples" / "autoscaler" / name).read_text()
    )
    manifest["metadata"]["namespace"] = namespace
    return manifest


async def test_the_keda_example_is_released_as_written(api: ApiClient, namespace: str) -> None:
    """examples/autoscaler/{scaledobject,canary-keda}.yaml, changed only in namespace and
    analysis interval: the primary's ScaledObject takes the example's primaryScalerQueries and
    primaryScalerReplicas, and a new version is promoted."""
    scaled_object = _keda_example("scaledobject.yaml", namespace)
    manifest = _keda_example("canary-keda.yaml", namespace)
    manifest["spec"]["analysis"]["interval"] = "2s"
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, scaled_object)
        await apply(api, manifest)
        await recorder.until_phase("Initialized", within=INITIALIZED_WITHIN)
        primary = await resources.get(api, SCALED_OBJECT, f"{SO}-primary", namespace=namespace)
        assert primary is not None
        assert primary["spec"]["scaleTargetRef"] == {"name": f"{NAME}-primary"}
        assert (primary["spec"]["minReplicaCount"], primary["spec"]["maxReplicaCount"]) == (2, 4)
        (trigger,) = primary["spec"]["triggers"]
        queries = manifest["spec"]["autoscalerRef"]["primaryScalerQueries"]
        assert trigger["metadata"]["query"] == queries["requests"]
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()
    promoted = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(promoted) == f"{IMAGE}:6.7.1"
