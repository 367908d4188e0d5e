"""The finalizer of `revertOnDeletion` and what a revert reads from a Canary, leniently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from canary.controller.deletion import (
    DEFAULT_PROGRESS_DEADLINE,
    FINALIZER,
    RevertSpec,
    finalizer_patch,
    is_deleting,
    ready_deadline,
    revert_spec,
    terminating_status,
    wants_revert,
)

NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def canary(
    *, finalizers: list[str] | None = None, deleted: str | None = None, **spec: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "podinfo",
        "namespace": "test",
        "uid": "uid-1",
        "resourceVersion": "42",
        "generation": 3,
    }
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    if deleted is not None:
        metadata["deletionTimestamp"] = deleted
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Canary",
        "metadata": metadata,
        "spec": {"targetRef": {"kind": "Deployment", "name": "podinfo"}, **spec},
    }


def test_revert_on_deletion_adds_the_finalizer_guarded_by_the_resource_version() -> None:
    raw = canary(revertOnDeletion=True)
    assert wants_revert(raw)
    assert finalizer_patch(raw, keep=True) == {
        "metadata": {"finalizers": [FINALIZER], "resourceVersion": "42"}
    }


def test_adding_keeps_other_finalizers_and_adding_twice_changes_nothing() -> None:
    raw = canary(finalizers=["other.io/keep"])
    patch = finalizer_patch(raw, keep=True)
    assert patch is not None
    assert patch["metadata"]["finalizers"] == ["other.io/keep", FINALIZER]
    assert finalizer_patch(canary(finalizers=[FINALIZER]), keep=True) is None


def test_removing_keeps_other_finalizers_and_clears_an_emptied_list() -> None:
    patch = finalizer_patch(canary(finalizers=["other.io/keep", FINALIZER]), keep=False)
    assert patch is not None
    assert patch["metadata"]["finalizers"] == ["other.io/keep"]
    emptied = finalizer_patch(canary(finalizers=[FINALIZER]), keep=False)
    assert emptied == {"metadata": {"finalizers": None, "resourceVersion": "42"}}
    assert finalizer_patch(canary(finalizers=["other.io/keep"]), keep=False) is None


@pytest.mark.parametrize("value", [False, None, "true", 1])
def test_only_a_literal_true_asks_for_a_revert(value: Any) -> None:
    assert not wants_revert(canary(revertOnDeletion=value))


def test_a_deletion_timestamp_means_deleting() -> None:
    assert is_deleting(canary(deleted="2025-01-01T12:00:00Z"))
    assert not is_deleting(canary())


def test_revert_spec_applies_the_spec_defaults() -> None:
    assert revert_spec(canary(), default_provider="linkerd") == RevertSpec(
        namespace="test",
        name="podinfo",
        uid="uid-1",
        target="podinfo",
        apex="podinfo",
        provider="linkerd",
        progress_deadline_seconds=DEFAULT_PROGRESS_DEADLINE,
    )


def test_revert_spec_reads_the_service_name_provider_and_deadline() -> None:
    raw = canary(
        service={"name": "web", "port": 80},
        provider="gatewayapi:v1",
        progressDeadlineSeconds=30,
    )
    spec = revert_spec(raw, default_provider="linkerd")
    assert spec is not None
    assert (spec.apex, spec.provider, spec.progress_deadline_seconds) == (
        "web",
        "gatewayapi:v1",
        30,
    )


def test_revert_spec_survives_a_spec_the_models_would_reject() -> None:
    raw = canary(service="not a map", provider=7, progressDeadlineSeconds=True, analysis=None)
    spec = revert_spec(raw, default_provider="linkerd")
    assert spec is not None
    assert (spec.apex, spec.provider, spec.progress_deadline_seconds) == (
        "podinfo",
        "linkerd",
        DEFAULT_PROGRESS_DEADLINE,
    )


def test_without_a_target_name_there_is_nothing_to_revert() -> None:
    raw = canary()
    raw["spec"]["targetRef"] = {"kind": "Deployment"}
    assert revert_spec(raw, default_provider="linkerd") is None
    assert revert_spec({"metadata": {}, "spec": None}, default_provider="linkerd") is None


def test_the_wait_for_the_target_ends_a_progress_deadline_after_the_revert_began() -> None:
    raw = canary(deleted="2025-01-01T11:00:00Z", progressDeadlineSeconds=60)
    spec = revert_spec(raw, default_provider="linkerd")
    assert spec is not None
    raw["status"] = {"phase": "Terminating", "phaseSince": "2025-01-01T12:00:00Z"}
    assert ready_deadline(raw, spec) == NOW + timedelta(seconds=60)


def test_before_the_revert_began_the_wait_counts_from_the_deletion() -> None:
    raw = canary(deleted="2025-01-01T12:00:00Z", progressDeadlineSeconds=60)
    spec = revert_spec(raw, default_provider="linkerd")
    assert spec is not None
    raw["status"] = {"phase": "Succeeded", "phaseSince": "2024-01-01T00:00:00Z"}
    assert ready_deadline(raw, spec) == NOW + timedelta(seconds=60)
    assert ready_deadline(canary(deleted="soon"), spec) is None


def test_terminating_status_keeps_the_rest_and_replaces_ready() -> None:
    raw = canary()
    promoted = {"type": "Promoted", "status": "True", "reason": "Succeeded"}
    raw["status"] = {
        "phase": "Succeeded",
        "lastPromotedSpec": "abc",
        "conditions": [promoted, {"type": "Ready", "status": "True", "reason": "Succeeded"}],
    }
    status = terminating_status(raw, now=NOW)
    assert status is not None
    assert status["phase"] == "Terminating"
    assert status["lastPromotedSpec"] == "abc"
    assert status["phaseSince"] == status["lastTransitionTime"] == "2025-01-01T12:00:00Z"
    assert status["conditions"][0] == promoted
    ready = status["conditions"][1]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "Unknown", "Terminating")
    assert ready["observedGeneration"] == 3
    assert terminating_status({**raw, "status": status}, now=NOW) is None


def test_revert_spec_names_the_scaled_object_to_resume() -> None:
    scaled = canary(autoscalerRef={"kind": "ScaledObject", "name": "podinfo-so"})
    spec = revert_spec(scaled, default_provider="linkerd")
    assert spec is not None
    assert spec.scaled_object == "podinfo-so"
    hpa = canary(autoscalerRef={"kind": "HorizontalPodAutoscaler", "name": "podinfo"})
    spec = revert_spec(hpa, default_provider="linkerd")
    assert spec is not None
    assert spec.scaled_object == ""


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("Service", "Service"),
        ("DaemonSet", "DaemonSet"),
        ("Deployment", "Deployment"),
        (7, "Deployment"),
    ],
)
def test_revert_spec_keeps_the_target_kind(kind: object, expected: str) -> None:
    raw = canary(provider="knative")
    raw["spec"]["targetRef"]["kind"] = kind
    spec = revert_spec(raw, default_provider="linkerd")
    assert spec is not None
    assert spec.target_kind == expected
