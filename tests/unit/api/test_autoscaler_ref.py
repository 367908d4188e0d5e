"""`spec.autoscalerRef` keeps Flagger's shape, `primaryScalerReplicas` included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from canary.api.canary import SCALER_REPLICAS_RULE, Canary, ScalerReplicas

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "podinfo" / "canary.yaml"


def _with_autoscaler(ref: dict[str, Any]) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    manifest["spec"]["autoscalerRef"] = ref
    return manifest


def test_flaggers_autoscaler_ref_is_read_as_written() -> None:
    ref = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "name": "podinfo",
        "primaryScalerReplicas": {"minReplicas": 2, "maxReplicas": 5},
    }
    canary = Canary.model_validate(_with_autoscaler(ref))
    assert canary.spec.autoscaler_ref is not None
    assert canary.spec.autoscaler_ref.primary_scaler_replicas == ScalerReplicas(
        min_replicas=2, max_replicas=5
    )
    assert canary.spec.to_manifest()["autoscalerRef"] == ref


@pytest.mark.parametrize(
    ("replicas", "message"),
    [
        ({"minReplicas": 5, "maxReplicas": 2}, SCALER_REPLICAS_RULE.message),
        ({"minReplicas": 0}, "greater than or equal to 1"),
        ({"maxReplicas": 2.5}, "valid integer"),
    ],
)
def test_bad_primary_scaler_replicas_are_refused(replicas: dict[str, Any], message: str) -> None:
    ref = {"kind": "HorizontalPodAutoscaler", "name": "podinfo", "primaryScalerReplicas": replicas}
    with pytest.raises(ValidationError, match=message):
        Canary.model_validate(_with_autoscaler(ref))


def test_flaggers_scaled_object_ref_is_read_as_written() -> None:
    ref = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "name": "podinfo-so",
        "primaryScalerQueries": {"requests": 'sum(rate(x{app="podinfo-primary"}[30s]))'},
        "primaryScalerReplicas": {"minReplicas": 2, "maxReplicas": 5},
    }
    canary = Canary.model_validate(_with_autoscaler(ref))
    assert canary.spec.autoscaler_ref is not None
    assert canary.spec.autoscaler_ref.primary_scaler_queries == ref["primaryScalerQueries"]
    assert canary.spec.to_manifest()["autoscalerRef"] == ref


def test_only_an_hpa_or_a_scaled_object_can_be_referenced() -> None:
    ref = {"kind": "VerticalPodAutoscaler", "name": "podinfo"}
    with pytest.raises(ValidationError, match="HorizontalPodAutoscaler"):
        Canary.model_validate(_with_autoscaler(ref))
