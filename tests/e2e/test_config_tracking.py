"""Config tracking end to end: a ConfigMap or Secret edit is a release like a new image.

The target uses a ConfigMap and a Secret (env) and an opted-out ConfigMap (a volume). The primary
uses `-primary` copies of the tracked ones, made at initialization; an edit of a tracked one
starts a run, and its promotion writes the new content into the copy together with the template.
The opted-out one is used by the primary as it is, and its edits are not part of any revision.
A missing (non-optional) config blocks initialization with a message naming it, until it exists.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.core.revision import config_checksum, revision
from canary.kube import resources
from canary.kube.resources import CONFIG_MAP, SECRET, ResourceKind
from tests.e2e.harness import (
    IMAGE,
    REPOSITORY,
    Recorder,
    apply,
    canary,
    get_canary,
    get_deployment,
    image_of,
    template_revision,
)
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")  # one controller process per test

NAME = "podinfo"
SETTINGS = "podinfo-settings"  # tracked ConfigMap, as env
CREDENTIALS = "podinfo-credentials"  # tracked Secret, as env
FILES = "podinfo-files"  # opted-out ConfigMap, as a volume
OPT_OUT = {"canary.dev/config-tracking": "disabled"}
INITIALIZED_WITHIN = 30.0
STARTED_WITHIN = 20.0  # well below the 60 s an idle Canary waits: the config watch woke it
RUN_WITHIN = 90.0


def _config_map(
    name: str, namespace: str, data: dict[str, str], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app": NAME}}
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}


def _secret(name: str, namespace: str, data: dict[str, str]) -> dict[str, Any]:
    metadata = {"name": name, "namespace": namespace}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata,
        "type": "Opaque",
        "data": data,
    }


def _target(namespace: str) -> dict[str, Any]:
    """examples/config-tracking/deployment.yaml: SETTINGS as envFrom, CREDENTIALS as one
    variable, FILES as a volume."""
    manifest: dict[str, Any] = yaml.safe_load(
        (REPOSITORY / "examples" / "config-tracking" / "deployment.yaml").read_text()
    )
    manifest["metadata"]["namespace"] = namespace
    return manifest


def _release(namespace: str) -> dict[str, Any]:
    return canary(NAME, namespace=namespace, interval="2s", threshold=2, step_weights=[50])


async def _get(api: ApiClient, kind: ResourceKind, name: str, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, kind, name, namespace=namespace)
    assert found is not None, f"{kind.kind} {namespace}/{name} does not exist"
    return found


async def _expected_revision(
    api: ApiClient, namespace: str, *, settings: dict[str, str], token: dict[str, str]
) -> str:
    """The revision the controller must compute: the template with the two tracked configs'
    checksums (from the core's documented formula), without the opted-out one."""
    target = await get_deployment(api, NAME, namespace=namespace)
    configs = {
        f"configmap/{SETTINGS}": config_checksum(settings),
        f"secret/{CREDENTIALS}": config_checksum(token),
    }
    return revision(target["spec"]["template"], configs)


async def _initialized(recorder: Recorder) -> None:
    await recorder.wait(
        lambda: (
            recorder.statuses.last is not None and recorder.statuses.last.phase == "Initialized"
        ),
        within=INITIALIZED_WITHIN,
        what="phase Initialized",
    )


def _primary_uses(primary: dict[str, Any]) -> tuple[str, str, str]:
    """The names of the (settings ConfigMap, token Secret, files ConfigMap) the primary uses."""
    spec = primary["spec"]["template"]["spec"]
    container = spec["containers"][0]
    return (
        container["envFrom"][0]["configMapRef"]["name"],
        container["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        spec["volumes"][0]["configMap"]["name"],
    )


async def _data(api: ApiClient, kind: ResourceKind, name: str, namespace: str) -> Any:
    found = await resources.get(api, kind, name, namespace=namespace)
    return None if found is None else found.get("data")


async def _released_and_promoted(recorder: Recorder, *, since: float) -> None:
    """A run started soon (the watch woke the Canary) and ended Succeeded."""
    await recorder.wait(
        lambda: any(
            s.at >= since and s.value.phase == "Progressing" for s in recorder.statuses.samples
        ),
        within=STARTED_WITHIN,
        what="phase Progressing after the edit",
    )
    outcome = await recorder.outcome(since=since, within=RUN_WITHIN)
    assert outcome.phase == "Succeeded", recorder.describe()


async def test_a_config_map_edit_is_released_and_promoted_into_its_primary_copy(
    api: ApiClient, namespace: str
) -> None:
    token = {"token": "czNjcjN0"}
    await apply(api, _config_map(SETTINGS, namespace, {"LEVEL": "info"}))
    await apply(api, _config_map(FILES, namespace, {"a.txt": "one"}, annotations=OPT_OUT))
    await apply(api, _secret(CREDENTIALS, namespace, token))
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, _target(namespace))
        await apply(api, _release(namespace))
        await _initialized(recorder)
        initial = await _expected_revision(api, namespace, settings={"LEVEL": "info"}, token=token)
        primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
        assert template_revision(primary) == initial
        assert _primary_uses(primary) == (f"{SETTINGS}-primary", f"{CREDENTIALS}-primary", FILES)
        copy = await _get(api, CONFIG_MAP, f"{SETTINGS}-primary", namespace)
        assert copy["data"] == {"LEVEL": "info"}
        assert copy["metadata"]["labels"] == {"app": NAME}
        (owner,) = copy["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("Canary", NAME, True)
        assert await _data(api, CONFIG_MAP, f"{FILES}-primary", namespace) is None
        status = (await get_canary(api, NAME, namespace=namespace))["status"]
        assert set(status["trackedConfigs"]) == {f"configmap/{SETTINGS}", f"secret/{CREDENTIALS}"}

        # The opted-out edit is not part of any revision: the one released below is exactly
        # the template with the tracked configs, so this edit could not have started a run.
        await apply(api, _config_map(FILES, namespace, {"a.txt": "two"}, annotations=OPT_OUT))
        edited = time.monotonic()
        await apply(api, _config_map(SETTINGS, namespace, {"LEVEL": "debug"}))
        await _released_and_promoted(recorder, since=edited)

    released = await _expected_revision(api, namespace, settings={"LEVEL": "debug"}, token=token)
    assert released != initial
    applied = [view.applied for view in recorder.statuses.values if view.applied]
    assert list(dict.fromkeys(applied)) == [initial, released], recorder.describe()
    assert recorder.phases.count("Progressing") == 1, recorder.describe()
    assert recorder.primary_revisions.values == [initial, released], recorder.describe()
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert template_revision(primary) == released
    assert image_of(primary) == f"{IMAGE}:6.7.0"  # only the config changed
    assert _primary_uses(primary) == (f"{SETTINGS}-primary", f"{CREDENTIALS}-primary", FILES)
    assert await _data(api, CONFIG_MAP, f"{SETTINGS}-primary", namespace) == {"LEVEL": "debug"}
    assert await _data(api, CONFIG_MAP, f"{FILES}-primary", namespace) is None
    status = (await get_canary(api, NAME, namespace=namespace))["status"]
    assert status["lastPromotedSpec"] == released


async def test_a_secret_edit_is_released_and_promoted_into_its_primary_copy(
    api: ApiClient, namespace: str
) -> None:
    settings = {"LEVEL": "info"}
    await apply(api, _config_map(SETTINGS, namespace, settings))
    await apply(api, _config_map(FILES, namespace, {"a.txt": "one"}, annotations=OPT_OUT))
    await apply(api, _secret(CREDENTIALS, namespace, {"token": "b2xk"}))
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, _target(namespace))
        await apply(api, _release(namespace))
        await _initialized(recorder)
        copy = await _get(api, SECRET, f"{CREDENTIALS}-primary", namespace)
        assert (copy["type"], copy["data"]) == ("Opaque", {"token": "b2xk"})

        edited = time.monotonic()
        await apply(api, _secret(CREDENTIALS, namespace, {"token": "bmV3"}))
        await _released_and_promoted(recorder, since=edited)

    released = await _expected_revision(api, namespace, settings=settings, token={"token": "bmV3"})
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert template_revision(primary) == released
    assert await _data(api, SECRET, f"{CREDENTIALS}-primary", namespace) == {"token": "bmV3"}


async def test_a_missing_config_blocks_initialization_until_it_exists(
    api: ApiClient, namespace: str
) -> None:
    await apply(api, _config_map(FILES, namespace, {"a.txt": "one"}, annotations=OPT_OUT))
    await apply(api, _secret(CREDENTIALS, namespace, {"token": "b2xk"}))
    await apply(api, _target(namespace))  # SETTINGS does not exist
    await apply(api, _release(namespace))

    def blocked(status: dict[str, Any]) -> bool:
        conditions: list[dict[str, Any]] = status.get("conditions") or []
        ready = next((c for c in conditions if c["type"] == "Ready"), {})
        return ready.get("reason") == "CannotProceed"

    status = await eventually(
        partial(_canary_status, api, namespace),
        until=blocked,
        within=INITIALIZED_WITHIN,
        what="Ready=False, reason CannotProceed",
    )
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert f"ConfigMap {namespace}/{SETTINGS}" in ready["message"], ready
    assert (
        await resources.get(api, resources.DEPLOYMENT, f"{NAME}-primary", namespace=namespace)
        is None
    )

    await apply(api, _config_map(SETTINGS, namespace, {"LEVEL": "info"}))
    await eventually(
        partial(_canary_status, api, namespace),
        until=lambda s: s.get("phase") == "Initialized",
        within=STARTED_WITHIN,
        what="phase Initialized once the ConfigMap exists",
    )
    assert await _data(api, CONFIG_MAP, f"{SETTINGS}-primary", namespace) == {"LEVEL": "info"}


async def _canary_status(api: ApiClient, namespace: str) -> dict[str, Any]:
    return dict((await get_canary(api, NAME, namespace=namespace)).get("status") or {})
