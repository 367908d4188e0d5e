"""DaemonSet targets: the primary copy, parking by node selector, and readiness from status."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.core.revision import revision
from canary.kube.resources import CanaryRef
from canary.targets.daemonset import (
    FLAGGER_SCALE_TO_ZERO_KEY,
    SCALE_TO_ZERO_KEY,
    daemonset_readiness,
    is_parked,
    park_patch,
    primary_daemonset,
    unpark_patch,
    unparked_template,
)
from canary.targets.deployment import REVISION_ANNOTATION, TargetError

OWNER = CanaryRef(name="agent", namespace="test", uid="0b8f1e0c-uid")


def target(**spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "agent"}},
        "minReadySeconds": 5,
        "revisionHistoryLimit": 4,
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"app": "agent"}, "annotations": {"a": "b"}},
            "spec": {
                "nodeSelector": {"kubernetes.io/os": "linux"},
                "containers": [{"name": "agent", "image": "agent:1"}],
            },
        },
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": "agent",
            "namespace": "test",
            "labels": {"app": "agent", "team": "a"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "spec": spec,
    }


def parked(daemonset: dict[str, Any], key: str = SCALE_TO_ZERO_KEY) -> dict[str, Any]:
    result = copy.deepcopy(daemonset)
    result["spec"]["template"]["spec"]["nodeSelector"][key] = "true"
    return result


def test_primary_is_a_daemonset_named_primary_selecting_primary_pods() -> None:
    source = target()
    primary = primary_daemonset(
        source, template=source["spec"]["template"], owner=OWNER, revision="r1"
    )
    assert primary["kind"] == "DaemonSet"
    assert primary["apiVersion"] == "apps/v1"
    assert primary["metadata"]["name"] == "agent-primary"
    assert primary["metadata"]["ownerReferences"][0]["uid"] == OWNER.uid
    assert primary["metadata"]["annotations"] == {REVISION_ANNOTATION: "r1"}
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "agent-primary"}}
    assert primary["spec"]["template"]["metadata"]["labels"] == {"app": "agent-primary"}
    assert primary["spec"]["updateStrategy"] == source["spec"]["updateStrategy"]
    assert primary["spec"]["minReadySeconds"] == 5
    assert primary["spec"]["revisionHistoryLimit"] == 4
    assert "replicas" not in primary["spec"]


def test_primary_never_gets_the_parking_node_selector() -> None:
    for key in (SCALE_TO_ZERO_KEY, FLAGGER_SCALE_TO_ZERO_KEY):
        source = parked(target(), key)
        primary = primary_daemonset(
            source, template=source["spec"]["template"], owner=OWNER, revision="r1"
        )
        node_selector = primary["spec"]["template"]["spec"]["nodeSelector"]
        assert node_selector == {"kubernetes.io/os": "linux"}


def test_on_delete_strategy_is_refused_naming_the_field() -> None:
    source = target(updateStrategy={"type": "OnDelete"})
    with pytest.raises(TargetError, match=r"spec\.updateStrategy\.type is OnDelete"):
        primary_daemonset(source, template=source["spec"]["template"], owner=OWNER, revision="r")


def test_parking_never_changes_the_revision() -> None:
    template = target()["spec"]["template"]
    for key in (SCALE_TO_ZERO_KEY, FLAGGER_SCALE_TO_ZERO_KEY):
        parked_template = parked(target(), key)["spec"]["template"]
        assert revision(unparked_template(parked_template)) == revision(template)


def test_a_node_selector_holding_only_the_parking_key_is_dropped() -> None:
    source = target()
    del source["spec"]["template"]["spec"]["nodeSelector"]
    bare = copy.deepcopy(source["spec"]["template"])
    source["spec"]["template"]["spec"]["nodeSelector"] = {SCALE_TO_ZERO_KEY: "true"}
    assert unparked_template(source["spec"]["template"]) == bare


def test_park_and_unpark_patches() -> None:
    running = target()
    assert not is_parked(running)
    assert park_patch(running) == {
        "spec": {"template": {"spec": {"nodeSelector": {SCALE_TO_ZERO_KEY: "true"}}}}
    }
    assert unpark_patch(running) is None
    ours = parked(running)
    assert is_parked(ours)
    assert park_patch(ours) is None
    assert unpark_patch(ours) == {
        "spec": {"template": {"spec": {"nodeSelector": {SCALE_TO_ZERO_KEY: None}}}}
    }
    flaggers = parked(running, FLAGGER_SCALE_TO_ZERO_KEY)
    assert is_parked(flaggers)
    assert unpark_patch(flaggers) == {
        "spec": {"template": {"spec": {"nodeSelector": {FLAGGER_SCALE_TO_ZERO_KEY: None}}}}
    }


def status(**fields: int) -> dict[str, Any]:
    daemonset = target()
    daemonset["metadata"]["generation"] = fields.pop("generation", 2)
    daemonset["status"] = {"observedGeneration": 2, **fields}
    return daemonset


def test_readiness_from_status() -> None:
    assert not daemonset_readiness(None).exists
    behind = daemonset_readiness(status(generation=3, desiredNumberScheduled=2))
    assert not behind.ready
    assert "observed generation behind (2 of 3)" in behind.message
    updating = daemonset_readiness(
        status(desiredNumberScheduled=3, updatedNumberScheduled=1, numberAvailable=3)
    )
    assert not updating.ready
    assert "1 of 3 scheduled pods have been updated" in updating.message
    unavailable = daemonset_readiness(
        status(desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=2)
    )
    assert not unavailable.ready
    assert "2 of 3 updated pods are available" in unavailable.message
    ready = daemonset_readiness(
        status(desiredNumberScheduled=3, updatedNumberScheduled=3, numberAvailable=3)
    )
    assert ready.ready
    assert not ready.deadline_exceeded


def test_ready_threshold_counts_a_share_of_the_scheduled_pods() -> None:
    daemonset = status(desiredNumberScheduled=4, updatedNumberScheduled=4, numberAvailable=2)
    assert daemonset_readiness(daemonset, ready_threshold_percent=50).ready
    assert not daemonset_readiness(daemonset, ready_threshold_percent=75).ready
