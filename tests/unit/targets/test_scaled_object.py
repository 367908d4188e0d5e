"""The primary's copy of the target's KEDA ScaledObject (queries, bounds, HPA name, metadata), the
canary's bounds, and the pause annotation of the target's ScaledObject."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.kube.resources import CanaryRef
from canary.targets.autoscaler import GITOPS_OPT_OUT, AutoscalerError, ReplicaBounds
from canary.targets.scaled_object import (
    PAUSED_REPLICAS,
    is_paused,
    pause_patch,
    primary_query,
    primary_scaled_object,
    replica_bounds,
)

OWNER = CanaryRef(name="podinfo", namespace="test", uid="0b8f1e0c-uid")
QUERY = 'sum(rate(http_requests_total{ app="podinfo-canary" }[30s]))'


def scaled_object(**spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "scaleTargetRef": {"name": "podinfo"},
        "minReplicaCount": 1,
        "maxReplicaCount": 3,
        "pollingInterval": 10,
        "triggers": [
            {
                "type": "prometheus",
                "name": "requests",
                "metadata": {"serverAddress": "http://prometheus:9090", "query": QUERY},
            },
            {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "80"}},
        ],
        **spec_overrides,
    }
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": "podinfo-so",
            "namespace": "test",
            "labels": {"app": "podinfo", "kustomize.toolkit.fluxcd.io/name": "apps"},
            "annotations": {
                "team": "shop",
                PAUSED_REPLICAS: "0",
                "autoscaling.keda.sh/paused": "true",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (QUERY, 'sum(rate(http_requests_total{ app="podinfo-primary" }[30s]))'),
        ('rate(x{deployment="podinfo"}[1m])', 'rate(x{deployment="podinfo-primary"}[1m])'),
        ('rate(x{app="podinfo-primary"}[1m])', 'rate(x{app="podinfo-primary"}[1m])'),
        ("podinfo podinfo-canary", "podinfo-primary podinfo-primary"),
        ('rate(x{app="web"}[1m])', 'rate(x{app="web"}[1m])'),
    ],
)
def test_queries_are_rewritten_to_measure_the_primary(query: str, expected: str) -> None:
    assert primary_query(query, target_name="podinfo") == expected


def test_the_primary_copy_scales_the_primary_with_rewritten_queries() -> None:
    target = scaled_object()
    before = copy.deepcopy(target)
    manifest = primary_scaled_object(target, target_name="podinfo", owner=OWNER)
    assert target == before, "the target's ScaledObject is never modified"
    assert manifest["apiVersion"] == "keda.sh/v1alpha1"
    assert manifest["kind"] == "ScaledObject"
    assert manifest["metadata"]["name"] == "podinfo-so-primary"
    assert manifest["metadata"]["namespace"] == "test"
    assert manifest["metadata"]["ownerReferences"] == [OWNER.owner_reference()]
    assert manifest["metadata"]["labels"] == {"app": "podinfo"}
    # KEDA's pause annotations are never copied: the primary must scale.
    assert manifest["metadata"]["annotations"] == {"team": "shop", **GITOPS_OPT_OUT}
    spec = manifest["spec"]
    assert spec["scaleTargetRef"] == {"name": "podinfo-primary"}
    assert (spec["minReplicaCount"], spec["maxReplicaCount"], spec["pollingInterval"]) == (1, 3, 10)
    assert spec["triggers"][0]["metadata"] == {
        "serverAddress": "http://prometheus:9090",
        "query": 'sum(rate(http_requests_total{ app="podinfo-primary" }[30s]))',
    }
    assert spec["triggers"][1] == target["spec"]["triggers"][1]
    assert "advanced" not in spec


def test_primary_scaler_queries_replace_the_named_triggers_queries_only() -> None:
    target = scaled_object()
    target["spec"]["triggers"].append(
        {"type": "prometheus", "name": "other", "metadata": {"query": QUERY}}
    )
    manifest = primary_scaled_object(
        target, target_name="podinfo", owner=OWNER, queries={"requests": "vector(7)"}
    )
    triggers = manifest["spec"]["triggers"]
    assert triggers[0]["metadata"]["query"] == "vector(7)"
    # As in Flagger: with primaryScalerQueries, a trigger it does not name keeps its query.
    assert triggers[2]["metadata"]["query"] == QUERY


def test_primary_scaler_replicas_and_the_hpa_name_of_the_primary() -> None:
    target = scaled_object(
        advanced={"horizontalPodAutoscalerConfig": {"name": "podinfo-hpa", "behavior": {}}}
    )
    manifest = primary_scaled_object(
        target, target_name="podinfo", owner=OWNER, min_replicas=2, max_replicas=5
    )
    assert manifest["spec"]["minReplicaCount"] == 2
    assert manifest["spec"]["maxReplicaCount"] == 5
    assert manifest["spec"]["advanced"]["horizontalPodAutoscalerConfig"] == {
        "name": "podinfo-hpa-primary",
        "behavior": {},
    }
    assert target["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["name"] == "podinfo-hpa"


def test_a_scaled_object_of_another_workload_or_contradicting_bounds_is_refused() -> None:
    with pytest.raises(AutoscalerError, match="scales Deployment web, not the target Deployment"):
        primary_scaled_object(
            scaled_object(scaleTargetRef={"name": "web"}), target_name="podinfo", owner=OWNER
        )
    with pytest.raises(AutoscalerError, match="scales StatefulSet podinfo"):
        primary_scaled_object(
            scaled_object(scaleTargetRef={"kind": "StatefulSet", "name": "podinfo"}),
            target_name="podinfo",
            owner=OWNER,
        )
    with pytest.raises(AutoscalerError, match="minReplicaCount 4 > maxReplicaCount 3"):
        primary_scaled_object(scaled_object(), target_name="podinfo", owner=OWNER, min_replicas=4)


def test_bounds_default_as_keda_does_and_a_canary_runs_at_least_one() -> None:
    assert replica_bounds(scaled_object()) == ReplicaBounds(1, 3)
    unbounded = scaled_object()
    del unbounded["spec"]["minReplicaCount"], unbounded["spec"]["maxReplicaCount"]
    assert replica_bounds(unbounded) == ReplicaBounds(1, 100)
    with pytest.raises(AutoscalerError, match="minReplicaCount 5 > maxReplicaCount 3"):
        replica_bounds(scaled_object(minReplicaCount=5))


def test_pause_and_resume_patches() -> None:
    assert is_paused(scaled_object())
    assert not is_paused({"metadata": {"annotations": {PAUSED_REPLICAS: "2"}}})
    assert not is_paused({"metadata": {}})
    assert pause_patch(paused=True) == {"metadata": {"annotations": {PAUSED_REPLICAS: "0"}}}
    assert pause_patch(paused=False) == {"metadata": {"annotations": {PAUSED_REPLICAS: None}}}
