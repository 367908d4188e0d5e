"""Ownership end to end: the controller process, its watch caches, and two teams' Canaries.

A Canary naming another's primary as its target is refused (`Conflict`) while the holder's
objects keep their exact resourceVersions; a second Canary on the holder's target waits
refused, and takes over on its own once the holder is deleted and its objects collected.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, DEPLOYMENT, SERVICE, TRAFFIC_SPLIT
from tests.e2e.cycles import cycle_after_now
from tests.e2e.harness import Controller, apply, canary, deployment, events_of, get_canary
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
WITHIN = 30.0
HOLDERS_OBJECTS = [
    (DEPLOYMENT, "podinfo-primary"),
    (SERVICE, "podinfo"),
    (SERVICE, "podinfo-primary"),
    (SERVICE, "podinfo-canary"),
    (TRAFFIC_SPLIT, "podinfo"),
]


def _ready(obj: dict[str, Any]) -> tuple[str, str, str]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready: dict[str, str] = next((c for c in conditions if c["type"] == "Ready"), {})
    return (ready.get("status", ""), ready.get("reason", ""), ready.get("message", ""))


async def _until_ready(api: ApiClient, name: str, namespace: str, reason: str) -> str:
    async def probe() -> tuple[str, str, str]:
        return _ready(await get_canary(api, name, namespace=namespace))

    found = await eventually(
        probe, until=lambda ready: ready[1] == reason, within=WITHIN, what=f"{name} {reason}"
    )
    return found[2]


async def _versions(api: ApiClient, namespace: str) -> dict[str, tuple[str, Any]]:
    found = {}
    for kind, name in HOLDERS_OBJECTS:
        obj = await resources.get(api, kind, name, namespace=namespace)
        assert obj is not None, name
        metadata = obj["metadata"]
        found[f"{kind.kind}/{name}"] = (
            metadata["resourceVersion"] if kind != DEPLOYMENT else obj["spec"],
            [owner["uid"] for owner in metadata.get("ownerReferences") or []],
        )
    return found


async def test_a_canary_naming_another_canarys_primary_changes_nothing(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(api, canary(NAME, namespace=namespace, step_weight=50))
    await _until_ready(api, NAME, namespace, "Initialized")
    before = await _versions(api, namespace)

    intruder = canary("podinfo-primary", namespace=namespace, step_weight=50)
    intruder["metadata"]["name"] = "intruder"
    await apply(api, intruder)
    message = await _until_ready(api, "intruder", namespace, "Conflict")
    assert f"is the primary Deployment of Canary {namespace}/{NAME}" in message
    await cycle_after_now(api, controller, name="intruder", namespace=namespace)
    assert await _versions(api, namespace) == before
    warnings = [(e.type, e.reason) for e in await events_of(api, "intruder", namespace=namespace)]
    assert warnings == [("Warning", "Conflict")]

    await resources.delete(api, CANARY, "intruder", namespace=namespace)
    await cycle_after_now(api, controller, name=NAME, namespace=namespace)
    assert await _versions(api, namespace) == before
    assert _ready(await get_canary(api, NAME, namespace=namespace))[:2] == ("True", "Initialized")


async def test_the_refused_canary_takes_over_once_the_holder_is_gone(
    api: ApiClient, namespace: str
) -> None:
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(api, canary(NAME, namespace=namespace, step_weight=50))
    await _until_ready(api, NAME, namespace, "Initialized")
    second = canary(NAME, namespace=namespace, step_weight=50)
    second["metadata"]["name"] = "second"
    await apply(api, second)
    message = await _until_ready(api, "second", namespace, "Conflict")
    assert f"is the target of Canary {namespace}/{NAME}, which holds it" in message

    await resources.delete(api, CANARY, NAME, namespace=namespace)
    await _until_ready(api, "second", namespace, "Initialized")
    uid = (await get_canary(api, "second", namespace=namespace))["metadata"]["uid"]
    versions = await _versions(api, namespace)
    assert {tuple(owners) for _, owners in versions.values()} == {(uid,)}
