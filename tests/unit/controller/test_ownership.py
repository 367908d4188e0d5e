"""The refusal a cycle computes before any write, from what its reader (the caches) holds.

The cluster cases are in tests/integration/test_ownership.py; these are the ones the API server
no longer lets through (a Canary admitted under an older CRD) or that need a second controller.
"""

from __future__ import annotations

from typing import Any

from canary.controller.ownership import CONFLICT, INVALID_NAME, LATER, SOON, refusal
from canary.kube.resources import ResourceKind


def canary(name: str, *, target: str = "podinfo", uid: str | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": uid or f"uid-{name}",
            "creationTimestamp": "2026-01-01T00:00:00Z",
        },
        "spec": {"targetRef": {"kind": "Deployment", "name": target}, "service": {"port": 80}},
    }


def owned_by(name: str, uid: str, api_version: str = "canary.dev/v1alpha1") -> dict[str, Any]:
    reference = {
        "apiVersion": api_version,
        "kind": "Canary",
        "name": name,
        "uid": uid,
        "controller": True,
    }
    return {"metadata": {"name": "x", "ownerReferences": [reference]}}


def reader(objects: dict[tuple[str, str], dict[str, Any]]) -> Any:
    async def read(kind: ResourceKind, namespace: str, name: str) -> dict[str, Any] | None:
        assert namespace == "team"
        return objects.get((kind.kind, name))

    return read


async def judge(
    raw: dict[str, Any],
    objects: dict[tuple[str, str], dict[str, Any]] | None = None,
    canaries: list[dict[str, Any]] | None = None,
) -> tuple[str, str, float] | None:
    found = await refusal(
        raw, read=reader(objects or {}), canaries=canaries or [raw], default_provider="linkerd"
    )
    return None if found is None else (found.reason, found.message, found.retry)


async def test_a_name_admitted_under_an_older_crd_is_refused_before_anything_is_written() -> None:
    # A name the CRD now refuses: an object stored before the rule still comes to the cycle.
    found = await judge(canary("long", target="p" * 60))
    assert found is not None
    reason, message, _ = found
    assert reason == INVALID_NAME
    assert f"Service name '{'p' * 60}-primary' (the primary Service) is not valid" in message
    assert message.endswith("nothing was created")


async def test_objects_of_a_deleted_canary_block_until_collected_and_are_looked_at_soon() -> None:
    objects = {("Deployment", "podinfo-primary"): owned_by("old", "uid-old")}
    found = await judge(canary("new"), objects)
    message = (
        "Deployment team/podinfo-primary (this Canary's primary Deployment) is still owned by "
        "Canary team/old, which no longer exists: waiting for the garbage collector to delete it"
    )
    assert found == (CONFLICT, message, SOON)


async def test_objects_of_flaggers_canary_are_left_to_it() -> None:
    objects = {("Service", "podinfo"): owned_by("podinfo", "uid-f", "flagger.app/v1beta1")}
    found = await judge(canary("podinfo"), objects)
    assert found is not None
    assert found[0] == CONFLICT
    assert "owned by Canary team/podinfo (flagger.app/v1beta1)" in found[1]
    assert found[2] == LATER


async def test_its_own_objects_and_another_targets_objects_are_no_conflict() -> None:
    mine = canary("mine")
    objects = {
        ("Deployment", "podinfo-primary"): owned_by("mine", "uid-mine"),
        ("Service", "podinfo"): owned_by("mine", "uid-mine"),
        ("Deployment", "other-primary"): owned_by("other", "uid-other"),
    }
    assert await judge(mine, objects, [mine, canary("other", target="other")]) is None


async def test_a_config_copy_name_too_long_is_refused() -> None:
    config = "c" * 250
    target = {
        "metadata": {"name": "podinfo"},
        "spec": {
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": {
                "metadata": {"labels": {"app": "podinfo"}},
                "spec": {"volumes": [{"name": "config", "configMap": {"name": config}}]},
            },
        },
    }
    objects: dict[tuple[str, str], dict[str, Any]] = {
        ("Deployment", "podinfo"): target,
        ("ConfigMap", config): {"metadata": {"name": config}, "data": {"a": "b"}},
    }
    found = await judge(canary("podinfo"), objects)
    assert found is not None
    assert found[0] == INVALID_NAME
    assert f"ConfigMap name '{config}-primary' (the primary's copy) is too long" in found[1]
