"""A Knative Service as a target: its Revisions are the primary and the canary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from canary.kube.resources import DEPLOYMENT, KNATIVE_REVISION, KNATIVE_SERVICE, CanaryRef
from canary.targets.configs import TrackedConfigs
from canary.targets.workload import workload_of

NOW = datetime(2026, 12, 6, tzinfo=UTC)
OWNER = CanaryRef(name="podinfo", namespace="test", uid="u-1")
KNATIVE = workload_of("Service")


def _service(*, primary: str | None = None, latest: str | None = "podinfo-00002") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "podinfo", "namespace": "test", "generation": 2}
    if primary is not None:
        metadata["annotations"] = {"flagger.app/primary-revision": primary, "team": "web"}
    status = {"latestCreatedRevisionName": latest} if latest else {}
    template = {"spec": {"containers": [{"image": "ghcr.io/stefanprodan/podinfo:6.0.1"}]}}
    return {"metadata": metadata, "spec": {"template": template}, "status": status}


def _revision(name: str, **ready: str) -> dict[str, Any]:
    conditions = [{"type": "Ready", **ready}] if ready else []
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


def test_a_knative_service_holds_its_primary_and_is_polled() -> None:
    assert KNATIVE.resource == KNATIVE_SERVICE
    assert (KNATIVE.copies, KNATIVE.watched, KNATIVE.replicated) == (False, False, False)
    assert not KNATIVE.parked(_service())
    assert workload_of("Deployment").resource == DEPLOYMENT
    assert workload_of("Deployment").copies


def test_the_primary_is_the_annotated_revision_and_the_canary_the_latest_created() -> None:
    service = _service(primary="podinfo-00001")
    assert KNATIVE.primary_at("podinfo", service) == (KNATIVE_REVISION, "podinfo-00001")
    assert KNATIVE.canary_at(service) == (KNATIVE_REVISION, "podinfo-00002")
    assert KNATIVE.primary_at("podinfo", _service()) is None  # not initialized yet
    assert KNATIVE.canary_at(_service(latest=None)) is None  # Knative made no Revision yet


def test_a_revision_is_a_revisions_name_whatever_the_configs() -> None:
    assert KNATIVE.revision(_service(), TrackedConfigs()) == "podinfo-00002"
    assert KNATIVE.revision(None, TrackedConfigs()) == ""
    assert KNATIVE.primary_revision(_revision("podinfo-00001")) == "podinfo-00001"
    assert KNATIVE.primary_revision(None) == ""


def test_recording_a_primary_touches_only_the_annotation() -> None:
    manifest = KNATIVE.primary(
        _service(primary="podinfo-00001"),
        template={},
        owner=OWNER,
        revision="podinfo-00002",
    )
    assert manifest == {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": {"flagger.app/primary-revision": "podinfo-00002"},
        },
    }


def test_a_revision_is_ready_when_knative_says_so() -> None:
    def readiness(revision: dict[str, Any] | None) -> tuple[bool, bool, str]:
        found = KNATIVE.readiness(revision, progress_deadline_seconds=60, now=NOW)
        return found.exists, found.ready, found.message

    assert readiness(_revision("podinfo-00002", status="True")) == (
        True,
        True,
        "revision podinfo-00002 is ready",
    )
    assert readiness(
        _revision("podinfo-00002", status="False", reason="ContainerMissing", message="no image")
    ) == (
        True,
        False,
        "waiting for knative revision podinfo-00002 to be ready (ContainerMissing: no image)",
    )
    assert readiness(_revision("podinfo-00002"))[:2] == (True, False)
    assert readiness(None) == (False, False, "revision does not exist")
