"""DaemonSet targets end to end, from examples/daemonset: blue/green with the kubernetes provider.

The target DaemonSet's pods run on every fake node of the sandbox. At initialization the primary
DaemonSet takes over and the target is parked (no pod anywhere); a new version starts it on
every node, is checked by the builtin checks (the mesh simulator answers for the DaemonSet's
pods, named as a DaemonSet's pods are), and is promoted (the apex Service switches to it, the
primary gets its template, the target is parked again) or rolled back (the apex never leaves
the primary). An edit of the ConfigMap the DaemonSet uses is a release like a new image. With
revertOnDeletion, deleting the Canary starts the target on every node again, with the promoted
template.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, CONFIG_MAP, DAEMON_SET, SERVICE, resource_kind
from canary.targets.daemonset import SCALE_TO_ZERO_KEY
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    RATE_ANNOTATION,
    REPOSITORY,
    TEST_MANAGER,
    Recorder,
    apex_weights_of,
    apply,
    image_of,
)
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo-agent"
SETTINGS = "podinfo-agent-settings"
EXAMPLE = REPOSITORY / "examples" / "daemonset"
NODES = resource_kind("v1", "Node")
RUN_WITHIN = 120.0


def _documents(file: str, namespace: str) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all((EXAMPLE / file).read_text()) if d]
    for document in documents:
        document["metadata"]["namespace"] = namespace
    return documents


async def _get(api: ApiClient, name: str, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, DAEMON_SET, name, namespace=namespace)
    assert found is not None, f"DaemonSet {namespace}/{name} does not exist"
    return found


def _scheduled(daemonset: dict[str, Any]) -> int:
    return int((daemonset.get("status") or {}).get("currentNumberScheduled") or 0)


async def _initialized(
    api: ApiClient, recorder: Recorder, namespace: str, *, revert: bool = False
) -> int:
    """Apply the example (2 s interval, 3 iterations; the target given requests of its own, as
    a load tester would send; `revert`: revertOnDeletion); return the number of nodes the
    primary runs on."""
    for document in _documents("daemonset.yaml", namespace):
        if document["kind"] == "DaemonSet":
            document["metadata"]["annotations"] = {RATE_ANNOTATION: "20"}
        await apply(api, document)
    [manifest] = _documents("canary.yaml", namespace)
    manifest["spec"]["analysis"].update(interval="2s", iterations=3)
    if revert:
        manifest["spec"]["revertOnDeletion"] = True
    await apply(api, manifest)
    await recorder.until_phase("Initialized", within=60)
    nodes = len(await resources.list_objects(api, NODES, namespace=None) or [])
    assert nodes > 0
    primary = await eventually(
        lambda: _get(api, f"{NAME}-primary", namespace),
        until=lambda d: (d.get("status") or {}).get("numberReady") == nodes,
        what="the primary on every node",
    )
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == f"{NAME}-primary"
    await _parked(api, namespace)
    return nodes


async def _parked(api: ApiClient, namespace: str) -> dict[str, Any]:
    target = await eventually(
        lambda: _get(api, NAME, namespace),
        until=lambda d: _scheduled(d) == 0,
        what="the target parked (no pod on any node)",
    )
    assert target["spec"]["template"]["spec"]["nodeSelector"] == {SCALE_TO_ZERO_KEY: "true"}
    return target


async def _set_template(
    api: ApiClient, namespace: str, *, tag: str, annotations: dict[str, str] | None = None
) -> None:
    """Release a new version as `kubectl set image` would: patch the pod template only."""
    metadata: dict[str, Any] = {"annotations": annotations} if annotations else {}
    container = {"name": "podinfod", "image": f"{IMAGE}:{tag}"}
    await resources.merge_patch(
        api,
        DAEMON_SET,
        NAME,
        namespace=namespace,
        patch={"spec": {"template": {"metadata": metadata, "spec": {"containers": [container]}}}},
        field_manager=TEST_MANAGER,
    )


def _recorder(api: ApiClient, namespace: str) -> Recorder:
    return Recorder(
        api,
        namespace=namespace,
        name=NAME,
        route=SERVICE,
        weights_of=apex_weights_of,
        primary_kind=DAEMON_SET,
    )


async def test_a_daemonset_is_promoted_blue_green_on_every_node(
    api: ApiClient, namespace: str
) -> None:
    recorder = _recorder(api, namespace)
    async with recorder.running():
        nodes = await _initialized(api, recorder, namespace)
        assert recorder.weights.last == (100, 0), recorder.describe()
        released = time.monotonic()
        await _set_template(api, namespace, tag="6.7.1")
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()
        await recorder.wait(
            lambda: recorder.weights.last == (100, 0), within=30, what="the apex on the primary"
        )
    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    primary = await eventually(
        lambda: _get(api, f"{NAME}-primary", namespace),
        until=lambda d: (
            image_of(d) == f"{IMAGE}:6.7.1"
            and (d.get("status") or {}).get("updatedNumberScheduled") == nodes
        ),
        what="the promoted primary on every node",
    )
    assert SCALE_TO_ZERO_KEY not in (primary["spec"]["template"]["spec"].get("nodeSelector") or {})
    await _parked(api, namespace)


async def test_a_faulty_daemonset_is_rolled_back_and_the_apex_never_switches(
    api: ApiClient, namespace: str
) -> None:
    recorder = _recorder(api, namespace)
    async with recorder.running():
        await _initialized(api, recorder, namespace)
        released = time.monotonic()
        await _set_template(api, namespace, tag="6.7.1", annotations={ERROR_RATE_ANNOTATION: "0.3"})
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Failed", recorder.describe()
    assert recorder.canary_weights == [0], recorder.describe()
    primary = await _get(api, f"{NAME}-primary", namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.0"
    target = await _parked(api, namespace)
    assert image_of(target) == f"{IMAGE}:6.7.1"  # the user's manifest is left as it is


async def test_an_edit_of_the_daemonsets_config_map_is_released_into_the_primary_copy(
    api: ApiClient, namespace: str
) -> None:
    recorder = _recorder(api, namespace)
    async with recorder.running():
        await _initialized(api, recorder, namespace)
        primary = await _get(api, f"{NAME}-primary", namespace)
        used = primary["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]
        assert used["configMapRef"]["name"] == f"{SETTINGS}-primary"
        released = time.monotonic()
        await resources.merge_patch(
            api,
            CONFIG_MAP,
            SETTINGS,
            namespace=namespace,
            patch={"data": {"PODINFO_UI_MESSAGE": "new message"}},
            field_manager=TEST_MANAGER,
        )
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()
    copy = await resources.get(api, CONFIG_MAP, f"{SETTINGS}-primary", namespace=namespace)
    assert copy is not None
    assert copy["data"] == {"PODINFO_UI_MESSAGE": "new message"}
    await _parked(api, namespace)


async def test_deleting_after_a_failed_release_runs_the_promoted_version_on_every_node(
    api: ApiClient, namespace: str
) -> None:
    """revertOnDeletion: the parked target is started again on every node, with the promoted
    template (not the failed one), and the apex Service selects its pods."""
    recorder = _recorder(api, namespace)
    async with recorder.running():
        nodes = await _initialized(api, recorder, namespace, revert=True)
        released = time.monotonic()
        await _set_template(api, namespace, tag="6.7.1", annotations={ERROR_RATE_ANNOTATION: "0.3"})
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Failed", recorder.describe()
    await _parked(api, namespace)
    await resources.delete(api, CANARY, NAME, namespace=namespace)
    await eventually(
        lambda: resources.get(api, CANARY, NAME, namespace=namespace),
        until=lambda c: c is None,
        within=60,
        what="the Canary deleted once the target serves",
    )
    target = await eventually(
        lambda: _get(api, NAME, namespace),
        until=lambda d: (
            (d.get("status") or {}).get("numberReady") == nodes
            and (d.get("status") or {}).get("updatedNumberScheduled") == nodes
        ),
        what="the target on every node again",
    )
    assert image_of(target) == f"{IMAGE}:6.7.0"
    assert "nodeSelector" not in target["spec"]["template"]["spec"]
    apex = await resources.get(api, SERVICE, NAME, namespace=namespace)
    assert apex is not None
    assert apex["spec"]["selector"] == {"app": NAME}
