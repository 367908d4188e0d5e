"""`spec.revertOnDeletion` end to end: deleting the Canary hands the traffic back to the target.

The controller runs as its own process; the test deletes the Canary as `kubectl delete` does
(background propagation) and judges by what the cluster went through: when the apex Service
switched to the target's pods, the target was already serving; the Canary went away; garbage
collection (the sandbox runs kube-controller-manager) took the primary. A Canary without the
field is deleted without its target being touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import (
    CANARY,
    CONFIG_MAP,
    DEPLOYMENT,
    SERVICE,
    TRAFFIC_SPLIT,
    ResourceKind,
)
from canary.kube.watch import watch
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    RATE_ANNOTATION,
    TEST_MANAGER,
    Recorder,
    apply,
    canary,
    deployment,
    events_of,
    get_deployment,
    image_of,
    set_template,
    template,
)
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")  # one controller process per test

NAME = "podinfo"
FINALIZER = "canary.dev/finalizer"
INITIALIZED_WITHIN = 30.0
RUN_WITHIN = 90.0
REVERTED_WITHIN = 30.0
COLLECTED_WITHIN = 30.0  # garbage collection of the primary once the Canary is gone


@pytest.fixture(autouse=True)
async def _no_finalizer_left(api: ApiClient, namespace: str) -> AsyncIterator[None]:
    """After a test that failed half-way, no Canary may keep a finalizer that the stopped
    controller can no longer remove: the namespace's deletion would wait for it for ever."""
    yield
    found = await resources.get(api, CANARY, NAME, namespace=namespace)
    if found is not None and found["metadata"].get("finalizers"):
        await resources.merge_patch(
            api,
            CANARY,
            NAME,
            namespace=namespace,
            patch={"metadata": {"finalizers": None}},
            field_manager=TEST_MANAGER,
        )


def _manifest(namespace: str, *, revert: bool, **options: Any) -> dict[str, Any]:
    manifest = canary(NAME, namespace=namespace, **options)
    if revert:
        manifest["spec"]["revertOnDeletion"] = True
    return manifest


async def _get(api: ApiClient, kind: ResourceKind, name: str, namespace: str) -> Any:
    return await resources.get(api, kind, name, namespace=namespace)


async def _initialized(
    api: ApiClient,
    namespace: str,
    manifest: dict[str, Any],
    *,
    target: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Apply `target` (by default the Deployment at 6.7.0, 2 replicas) and `manifest`; the Canary
    once Initialized with its target parked at zero."""
    await apply(api, target or deployment(NAME, namespace=namespace))
    await apply(api, manifest)
    found = await eventually(
        partial(_get, api, CANARY, NAME, namespace),
        until=lambda c: c is not None and (c.get("status") or {}).get("phase") == "Initialized",
        within=INITIALIZED_WITHIN,
        what="phase Initialized",
    )
    await eventually(
        partial(_get, api, DEPLOYMENT, NAME, namespace),
        until=lambda d: d["spec"].get("replicas") == 0,
        within=20,
        what="the target scaled to 0",
    )
    apex = await _get(api, SERVICE, NAME, namespace)
    assert apex["spec"]["selector"] == {"app": f"{NAME}-primary"}
    return dict(found)


def _serving(target: dict[str, Any] | None) -> bool:
    """The target runs its current spec with 2 available replicas."""
    if target is None:
        return False
    status = target.get("status") or {}
    return (
        target["spec"].get("replicas") == 2
        and status.get("observedGeneration") == target["metadata"].get("generation")
        and status.get("updatedReplicas") == 2
        and status.get("availableReplicas") == 2
        and status.get("replicas") == 2
    )


@dataclass
class Switch:
    """Follows the apex Service and the target, to tell what the target was when the apex first
    selected its pods.

    The two watches deliver independently, so the target's state at the switch is found by
    resourceVersion afterwards: the latest target version written before the apex switched.
    (Resource versions are opaque to clients in general; the sandbox's single etcd makes them
    one ordered sequence, which is what this instrument relies on.)
    """

    api: ApiClient
    namespace: str
    targets: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    switched_at: int | None = None  # the apex's resourceVersion when it first selected the target
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def _apex(self, obj: dict[str, Any]) -> None:
        selector = (obj.get("spec") or {}).get("selector") or {}
        if obj["metadata"]["name"] == NAME and selector == {"app": NAME}:
            version = int(obj["metadata"]["resourceVersion"])
            self.switched_at = min(version, self.switched_at or version)

    def _deployment(self, obj: dict[str, Any]) -> None:
        if obj["metadata"]["name"] == NAME:
            self.targets.append((int(obj["metadata"]["resourceVersion"]), obj))

    @property
    def target_when_switched(self) -> dict[str, Any] | None:
        if self.switched_at is None:
            return None
        before = [(v, t) for v, t in self.targets if v < self.switched_at]
        return max(before, key=lambda pair: pair[0])[1] if before else None

    async def _follow(self, kind: ResourceKind, handle: Any) -> None:
        async for event in watch(self.api, kind, namespace=self.namespace):
            for obj in event.items if event.kind == "SYNCED" else (event.object,):
                if event.kind != "DELETED":
                    handle(obj)

    async def _seen(self) -> int:
        return len(self.targets)

    @contextlib.asynccontextmanager
    async def following(self) -> AsyncIterator[Switch]:
        self.tasks.append(asyncio.create_task(self._follow(DEPLOYMENT, self._deployment)))
        self.tasks.append(asyncio.create_task(self._follow(SERVICE, self._apex)))
        await eventually(self._seen, until=bool, within=10, what="the target seen")
        try:
            yield self
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)


async def _gone(api: ApiClient, kind: ResourceKind, name: str, namespace: str) -> None:
    await eventually(
        partial(_get, api, kind, name, namespace),
        until=lambda found: found is None,
        within=COLLECTED_WITHIN,
        what=f"{kind.kind} {name} gone",
    )


async def _reasons(api: ApiClient, namespace: str) -> set[str]:
    return {e.reason for e in await events_of(api, NAME, namespace=namespace)}


async def _assert_reverted(api: ApiClient, namespace: str, switch: Switch) -> None:
    """The deletion completed: traffic on the target, which served before the apex switched."""
    await _gone(api, CANARY, NAME, namespace)
    assert switch.switched_at is not None, "the apex Service never selected the target's pods"
    assert _serving(switch.target_when_switched), switch.target_when_switched
    apex = await _get(api, SERVICE, NAME, namespace)
    assert apex is not None, "the apex Service must outlive the Canary"
    assert apex["spec"]["selector"] == {"app": NAME}
    assert not apex["metadata"].get("ownerReferences"), apex["metadata"]
    assert await _get(api, TRAFFIC_SPLIT, NAME, namespace) is None
    await _gone(api, DEPLOYMENT, f"{NAME}-primary", namespace)
    await _gone(api, SERVICE, f"{NAME}-primary", namespace)
    assert _serving(await get_deployment(api, NAME, namespace=namespace))
    await eventually(
        partial(_reasons, api, namespace),
        until=lambda r: {"Terminating", "TargetScaled", "TrafficReverted", "Terminated"} <= r,
        within=10,
        what="the revert's events",
    )


async def test_deleting_hands_the_traffic_back_to_the_scaled_up_target(
    api: ApiClient, namespace: str
) -> None:
    found = await _initialized(api, namespace, _manifest(namespace, revert=True, step_weight=10))
    assert FINALIZER in found["metadata"].get("finalizers", [])

    async with Switch(api, namespace).following() as switch:
        await resources.delete(api, CANARY, NAME, namespace=namespace)
        await _assert_reverted(api, namespace, switch)

    target = await get_deployment(api, NAME, namespace=namespace)
    assert image_of(target) == f"{IMAGE}:6.7.0"
    assert "TemplateRestored" not in await _reasons(api, namespace)


async def test_deleting_after_a_failed_release_serves_the_promoted_version_not_the_failed_one(
    api: ApiClient, namespace: str
) -> None:
    manifest = _manifest(namespace, revert=True, interval="3s", threshold=2, step_weight=10)
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        initial = await _initialized(api, namespace, manifest)
        await resources.merge_patch(
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
        assert outcome.promoted == initial["status"]["lastPromotedSpec"]
    await eventually(
        partial(_get, api, DEPLOYMENT, NAME, namespace),
        until=lambda d: d["spec"].get("replicas") == 0,
        within=20,
        what="the failed canary scaled to 0",
    )

    async with Switch(api, namespace).following() as switch:
        await resources.delete(api, CANARY, NAME, namespace=namespace)
        await _assert_reverted(api, namespace, switch)

    target = await get_deployment(api, NAME, namespace=namespace)
    assert image_of(target) == f"{IMAGE}:6.7.0"
    annotations = target["spec"]["template"]["metadata"].get("annotations") or {}
    assert ERROR_RATE_ANNOTATION not in annotations
    restored = [
        e for e in await events_of(api, NAME, namespace=namespace) if e.reason == "TemplateRestored"
    ]
    assert restored, "a restored template is announced"
    assert restored[0].type == "Warning"
    assert outcome.promoted in restored[0].message


async def test_a_target_using_tracked_config_keeps_its_template_and_its_config(
    api: ApiClient, namespace: str
) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": namespace},
        "data": {"color": "blue"},
    }
    await apply(api, config)
    target = deployment(NAME, namespace=namespace)
    target["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [
        {"configMapRef": {"name": "settings"}}
    ]
    manifest = _manifest(namespace, revert=True, step_weight=10)
    await _initialized(api, namespace, manifest, target=target)
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    uses = primary["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert uses == [{"configMapRef": {"name": "settings-primary"}}]
    before = await get_deployment(api, NAME, namespace=namespace)

    async with Switch(api, namespace).following() as switch:
        await resources.delete(api, CANARY, NAME, namespace=namespace)
        await _assert_reverted(api, namespace, switch)

    after = await get_deployment(api, NAME, namespace=namespace)
    assert after["spec"]["template"] == before["spec"]["template"]
    assert "TemplateRestored" not in await _reasons(api, namespace)
    await _gone(api, CONFIG_MAP, "settings-primary", namespace)
    assert await _get(api, CONFIG_MAP, "settings", namespace) is not None


async def test_a_target_that_never_becomes_ready_delays_the_deletion_by_the_deadline_only(
    api: ApiClient, namespace: str
) -> None:
    unschedulable = deployment(NAME, namespace=namespace)
    unschedulable["spec"]["template"] = template(
        NAME, tag="6.7.0", node_selector={"canary.dev/no-such-node": "true"}
    )
    await apply(api, unschedulable)
    manifest = _manifest(namespace, revert=True, step_weight=10, progress_deadline_seconds=10)
    await apply(api, manifest)
    await eventually(
        partial(_get, api, DEPLOYMENT, f"{NAME}-primary", namespace),
        until=lambda primary: primary is not None,
        within=INITIALIZED_WITHIN,
        what="the primary created",
    )
    await eventually(
        partial(_get, api, CANARY, NAME, namespace),
        until=lambda c: FINALIZER in c["metadata"].get("finalizers", []),
        within=10,
        what="the finalizer",
    )

    await resources.delete(api, CANARY, NAME, namespace=namespace)
    await _gone(api, CANARY, NAME, namespace)  # within COLLECTED_WITHIN, > the 10 s deadline

    events = await events_of(api, NAME, namespace=namespace)
    late = [e for e in events if e.reason == "TargetNotReady"]
    assert late, [e.reason for e in events]
    assert late[0].type == "Warning"
    assert "progressDeadlineSeconds" in late[0].message
    apex = await _get(api, SERVICE, NAME, namespace)
    assert apex["spec"]["selector"] == {"app": NAME}
    target = await get_deployment(api, NAME, namespace=namespace)
    assert target["spec"]["replicas"] == 2
    assert not (target.get("status") or {}).get("availableReplicas")


async def test_a_canary_without_revert_on_deletion_leaves_its_target_alone(
    api: ApiClient, namespace: str
) -> None:
    found = await _initialized(api, namespace, _manifest(namespace, revert=False, step_weight=10))
    assert FINALIZER not in found["metadata"].get("finalizers", [])
    before = await get_deployment(api, NAME, namespace=namespace)

    await resources.delete(api, CANARY, NAME, namespace=namespace)
    await _gone(api, CANARY, NAME, namespace)
    await _gone(api, DEPLOYMENT, f"{NAME}-primary", namespace)
    await _gone(api, SERVICE, NAME, namespace)  # the apex was the Canary's: collected with it

    after = await get_deployment(api, NAME, namespace=namespace)
    assert after["spec"]["replicas"] == 0
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"]["template"] == before["spec"]["template"]
    assert "Terminating" not in await _reasons(api, namespace)
