"""The primary's copy of the target's HPA, the canary's replicas within HPA bounds, and who owns
the primary's replicas."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.kube.resources import CanaryRef
from canary.routers import base
from canary.targets.autoscaler import (
    GITOPS_OPT_OUT,
    AutoscalerError,
    ReplicaBounds,
    applies_replicas,
    canary_replicas,
    primary_autoscaler,
    replica_bounds,
    replicas_claim,
    without_replicas,
)

OWNER = CanaryRef(name="podinfo", namespace="test", uid="0b8f1e0c-uid")
METRICS = [
    {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
    }
]
BEHAVIOR = {"scaleDown": {"stabilizationWindowSeconds": 60}}


def hpa(**spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "minReplicas": 2,
        "maxReplicas": 4,
        "metrics": METRICS,
        "behavior": BEHAVIOR,
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "podinfo-hpa",
            "namespace": "test",
            "uid": "hpa-uid",
            "resourceVersion": "12",
            "labels": {"app": "podinfo", "kustomize.toolkit.fluxcd.io/name": "apps"},
            "annotations": {
                "team": "a",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": spec,
        "status": {"currentReplicas": 3, "desiredReplicas": 3},
    }


def test_the_copy_scales_the_primary_as_the_target_hpa_scales_the_target() -> None:
    copied = primary_autoscaler(hpa(), target_name="podinfo", owner=OWNER)
    assert copied == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": "podinfo-hpa-primary",
            "namespace": "test",
            "labels": {"app": "podinfo"},
            "annotations": {"team": "a", **GITOPS_OPT_OUT},
            "ownerReferences": [OWNER.owner_reference()],
        },
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "podinfo-primary",
            },
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": METRICS,
            "behavior": BEHAVIOR,
        },
    }


def test_generated_objects_share_one_gitops_opt_out() -> None:
    assert GITOPS_OPT_OUT == base.GITOPS_OPT_OUT


@pytest.mark.parametrize(
    ("minimum", "maximum", "expected"),
    [(None, None, (2, 4)), (3, None, (3, 4)), (None, 10, (2, 10)), (5, 8, (5, 8)), (1, 1, (1, 1))],
)
def test_primary_scaler_replicas_replace_the_bounds_they_name(
    minimum: int | None, maximum: int | None, expected: tuple[int, int]
) -> None:
    copied = primary_autoscaler(
        hpa(), target_name="podinfo", owner=OWNER, min_replicas=minimum, max_replicas=maximum
    )
    assert (copied["spec"]["minReplicas"], copied["spec"]["maxReplicas"]) == expected


def test_bounds_that_contradict_each_other_are_refused_saying_which_fields() -> None:
    with pytest.raises(AutoscalerError) as refused:
        primary_autoscaler(hpa(), target_name="podinfo", owner=OWNER, min_replicas=6)
    message = str(refused.value)
    assert "minReplicas 6 > maxReplicas 4" in message
    assert "spec.autoscalerRef.primaryScalerReplicas" in message
    assert "test/podinfo-hpa" in message


def test_an_hpa_of_another_workload_is_refused_naming_the_field() -> None:
    other = hpa(scaleTargetRef={"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})
    with pytest.raises(AutoscalerError) as refused:
        primary_autoscaler(other, target_name="podinfo", owner=OWNER)
    assert str(refused.value) == (
        "HorizontalPodAutoscaler test/podinfo-hpa (spec.autoscalerRef.name) scales Deployment "
        "web, not the target Deployment podinfo"
    )


def test_a_min_replicas_left_out_is_one_as_in_kubernetes() -> None:
    source = hpa()
    del source["spec"]["minReplicas"]
    copied = primary_autoscaler(source, target_name="podinfo", owner=OWNER)
    assert "minReplicas" not in copied["spec"]
    assert replica_bounds(source) == ReplicaBounds(1, 4)
    with pytest.raises(AutoscalerError, match="minReplicas 5 > maxReplicas 4"):
        primary_autoscaler(source, target_name="podinfo", owner=OWNER, min_replicas=5)


def test_building_the_copy_does_not_change_the_target_hpa() -> None:
    source = hpa()
    before = copy.deepcopy(source)
    copied = primary_autoscaler(source, target_name="podinfo", owner=OWNER, min_replicas=3)
    copied["spec"]["metrics"][0]["resource"]["name"] = "memory"
    assert source == before


def deployment(replicas: int | None) -> dict[str, Any]:
    spec = {} if replicas is None else {"replicas": replicas}
    return {"metadata": {"name": "podinfo-primary", "namespace": "test"}, "spec": spec}


@pytest.mark.parametrize(
    ("own", "primary", "expected"),
    [
        (0, 3, 3),  # the primary's replicas, as without an HPA
        (0, 9, 4),  # ... but never above the target HPA's maxReplicas
        (0, 1, 2),  # ... nor below its minReplicas
        (0, None, 2),  # no primary replicas: 1, raised to minReplicas
        (3, 9, 3),  # a canary already running keeps its own
    ],
)
def test_the_canary_starts_within_its_hpas_bounds(
    own: int, primary: int | None, expected: int
) -> None:
    replicas = canary_replicas(
        deployment(own), primary=deployment(primary), bounds=ReplicaBounds(2, 4)
    )
    assert replicas == expected


def managed(manager: str, operation: str, spec_fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:spec": spec_fields},
    }


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([managed("canary-controller", "Apply", {"f:replicas": {}, "f:template": {}})], True),
        ([managed("canary-controller", "Apply", {"f:template": {}})], False),
        ([managed("canary-controller", "Update", {"f:replicas": {}})], False),
        ([managed("kube-controller-manager", "Update", {"f:replicas": {}})], False),
        ([], False),
    ],
)
def test_whether_the_controllers_apply_owns_the_replicas(
    entries: list[dict[str, Any]], *, expected: bool
) -> None:
    primary = deployment(3)
    primary["metadata"]["managedFields"] = entries
    assert applies_replicas(primary, manager="canary-controller") is expected


def test_a_replicas_claim_sets_only_the_current_replicas() -> None:
    assert replicas_claim(deployment(5)) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo-primary", "namespace": "test"},
        "spec": {"replicas": 5},
    }


def test_without_replicas_keeps_everything_else() -> None:
    manifest: dict[str, Any] = {"kind": "Deployment", "spec": {"replicas": 2, "template": {}}}
    assert without_replicas(manifest) == {"kind": "Deployment", "spec": {"template": {}}}
    assert manifest["spec"]["replicas"] == 2
