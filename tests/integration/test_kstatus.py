"""Flux and Argo CD see the truth: the real kstatus library reads every status the controller
writes as they should (Failed for a rolled-back or refused Canary, InProgress while a release is
in flight, Current at rest), and a Canary the controller has not judged yet is never Current.
Argo CD's health script (examples/argocd/canary-health.lua) reads the same."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.api.canary import Canary
from canary.api.status import CanaryStatus
from canary.controller.convert import status_of
from canary.controller.failures import RECONCILE_FAILED, failure_message, refused_status
from canary.controller.support import fields_honored
from canary.core.conditions import ConditionType
from canary.core.model import CanaryState, Phase
from canary.kube import resources
from canary.kube.resources import CANARY
from tests.integration.crds import install_crds
from tests.kstatus.judge import Judge

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "podinfo" / "canary.yaml"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

READS = {
    Phase.INITIALIZING: "InProgress",
    Phase.INITIALIZED: "Current",
    Phase.WAITING: "InProgress",
    Phase.PROGRESSING: "InProgress",
    Phase.WAITING_PROMOTION: "InProgress",
    Phase.PROMOTING: "InProgress",
    Phase.FINALISING: "InProgress",
    Phase.SUCCEEDED: "Current",
    Phase.FAILED: "Failed",
    Phase.TERMINATING: "InProgress",
    Phase.TERMINATED: "InProgress",
}

ARGOCD = {"InProgress": "Progressing", "Current": "Healthy", "Failed": "Degraded"}


def _canary(*, generation: int = 1, status: dict[str, Any] | None = None) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"].update(namespace="shop", generation=generation)
    if status is not None:
        manifest["status"] = status
    return manifest


def test_every_phase_reads_as_flux_and_argo_cd_expect(kstatus: Judge) -> None:
    assert set(READS) == set(Phase)
    phases = list(Phase)
    objects = [
        _canary(
            generation=3,
            status=status_of(
                CanaryState(phase=phase, phase_since=NOW, message=f"in {phase}"),
                previous=CanaryStatus(),
                generation=3,
                now=NOW,
                checked_at=None,
            ),
        )
        for phase in phases
    ]
    readings = kstatus.read_all(objects)
    assert {p: r.status for p, r in zip(phases, readings, strict=True)} == READS
    failed = readings[phases.index(Phase.FAILED)]
    assert failed.message == "in Failed"  # the rollback's reason reaches the GitOps tool
    health = kstatus.argocd_all(objects)
    assert {p: h.status for p, h in zip(phases, health, strict=True)} == {
        p: ARGOCD[r] for p, r in READS.items()
    }
    assert health[phases.index(Phase.FAILED)].message == "in Failed"


def test_ignored_fields_never_change_how_a_canary_reads(kstatus: Judge) -> None:
    """`FieldsHonored=False` (another provider's field, ignored) is a warning, not a state."""
    with_istio_field = _canary(generation=3)
    with_istio_field["spec"]["service"]["trafficPolicy"] = {"tls": {"mode": "ISTIO_MUTUAL"}}
    notes = fields_honored(Canary.model_validate(with_istio_field), default_provider="linkerd")
    assert notes[ConditionType.FIELDS_HONORED] is not None
    phases = list(Phase)
    objects = [
        {
            **with_istio_field,
            "status": status_of(
                CanaryState(phase=phase, phase_since=NOW, message=f"in {phase}"),
                previous=CanaryStatus(),
                generation=3,
                now=NOW,
                checked_at=None,
                notes=notes,
            ),
        }
        for phase in phases
    ]
    assert all(
        any(c["type"] == "FieldsHonored" for c in o["status"]["conditions"]) for o in objects
    )
    readings = kstatus.read_all(objects)
    assert {p: r.status for p, r in zip(phases, readings, strict=True)} == READS
    health = kstatus.argocd_all(objects)
    assert {p: h.status for p, h in zip(phases, health, strict=True)} == {
        p: ARGOCD[r] for p, r in READS.items()
    }


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("InvalidSpec", "spec.analysis.interval: must be at least 1s"),
        ("Unsupported", "not supported: spec.analysis.sessionAffinity"),
        ("Conflict", "the target podinfo is held by Canary shop/other"),
        ("CannotProceed", "the target Deployment 'podinfo' does not exist"),
        (RECONCILE_FAILED, failure_message(RuntimeError('services "podinfo" is forbidden'))),
    ],
    ids=lambda value: str(value)[:20],
)
def test_a_canary_the_controller_cannot_move_reads_failed(
    kstatus: Judge, reason: str, message: str
) -> None:
    succeeded = status_of(
        CanaryState(phase=Phase.SUCCEEDED),
        previous=CanaryStatus(),
        generation=1,
        now=NOW,
        checked_at=None,
    )
    for before in ({}, succeeded):  # a new Canary, and one that had been promoted
        raw = _canary(generation=2, status=before)
        judged = {**raw, "status": refused_status(raw, reason=reason, message=message, now=NOW)}
        reading = kstatus.read(judged)
        assert (reading.status, reading.message) == ("Failed", message)
        (health,) = kstatus.argocd_all([judged])
        assert (health.status, health.message) == ("Degraded", message)


def test_a_spec_change_not_yet_observed_reads_in_progress(kstatus: Judge) -> None:
    promoted = status_of(
        CanaryState(phase=Phase.SUCCEEDED),
        previous=CanaryStatus(),
        generation=1,
        now=NOW,
        checked_at=None,
    )
    reading = kstatus.read(_canary(generation=2, status=promoted))
    assert reading.status == "InProgress"
    assert kstatus.argocd_all([_canary(generation=2, status=promoted)])[0].status == "Progressing"


async def test_a_new_canary_is_not_current_before_the_controller_judged_it(
    api: ApiClient, namespace: str, kstatus: Judge
) -> None:
    """No controller runs here: the object as the API server serves it must read InProgress
    (kstatus calls an object without status Current; the CRD's default status prevents it)."""
    await install_crds(api)
    manifest = _canary()
    manifest["metadata"] = {"name": "podinfo", "namespace": namespace}
    created = await resources.create(api, manifest)
    got = await resources.get(api, CANARY, "podinfo", namespace=namespace)
    listed = await resources.list_objects(api, CANARY, namespace=namespace)
    assert got is not None
    assert listed is not None
    for served in (created, got, *listed):
        assert served["status"] == {"observedGeneration": 0}, served.get("status")
        whole = {"apiVersion": CANARY.api_version, "kind": "Canary", **served}
        assert kstatus.read(whole).status == "InProgress", whole
        assert kstatus.argocd_all([whole])[0].status == "Progressing", whole
