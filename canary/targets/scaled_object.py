"""The primary's copy of the target's KEDA ScaledObject, its replica bounds, and the pause of the
target's own ScaledObject.

A Canary whose `spec.autoscalerRef` is a ScaledObject (keda.sh/v1alpha1) gives the primary a
ScaledObject of its own, `<so>-primary`: the target's spec with `scaleTargetRef` naming
`<target>-primary`, the HPA name KEDA derives (when the target's sets one) suffixed `-primary`,
the bounds `primaryScalerReplicas` gives, and every trigger's `query` made to measure the primary:
the query `primaryScalerQueries` gives for the trigger's name, or else the target's query with
`<target>` and `<target>-canary` written `<target>-primary`, as Flagger does.

Unlike an HPA, KEDA would scale the target up from zero by itself, so the target's ScaledObject is
paused (annotation `autoscaling.keda.sh/paused-replicas: "0"`) while no analysis runs, and resumed
for the run.

It is pure: it builds manifests and patches, never reads the cluster.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any, Final

from canary.kube.resources import DEPLOYMENT, SCALED_OBJECT, CanaryRef
from canary.targets.autoscaler import (
    GITOPS_OPT_OUT,
    REF_FIELD,
    AutoscalerError,
    ReplicaBounds,
    copied_metadata,
    primary_autoscaler_name,
)
from canary.targets.deployment import PRIMARY_SUFFIX, primary_name

PAUSED_REPLICAS: Final = "autoscaling.keda.sh/paused-replicas"
# KEDA's pause annotations: never copied to the primary's ScaledObject, which must scale.
_PAUSES: Final = frozenset({PAUSED_REPLICAS, "autoscaling.keda.sh/paused"})
# KEDA's defaults for a ScaledObject's bounds.
KEDA_MIN_REPLICAS: Final = 0
KEDA_MAX_REPLICAS: Final = 100


def _address(scaled_object: Mapping[str, Any]) -> str:
    metadata = scaled_object.get("metadata") or {}
    return f"ScaledObject {metadata.get('namespace', '')}/{metadata.get('name', '<unnamed>')}"


def primary_query(query: str, *, target_name: str) -> str:
    """`query` with the target's name, and `<target>-canary`, written `<target>-primary`
    (a name already written `<target>-primary` is left as it is)."""
    pattern = re.compile(re.escape(target_name) + r"(?:-canary|-primary)?")
    return pattern.sub(primary_name(target_name), query)


def primary_triggers(
    triggers: list[Any], *, target_name: str, queries: Mapping[str, str] | None
) -> list[Any]:
    """The target's triggers with the primary's queries.

    With `queries` (primaryScalerQueries), a trigger whose `name` is a key gets that query and
    the others keep theirs, as in Flagger; without, every `metadata.query` is rewritten.
    """
    rewritten = []
    for trigger in triggers:
        if not isinstance(trigger, Mapping):
            rewritten.append(trigger)
            continue
        metadata = dict(trigger.get("metadata") or {})
        if queries is not None:
            name = trigger.get("name")
            if isinstance(name, str) and name in queries:
                metadata["query"] = queries[name]
        elif isinstance(metadata.get("query"), str):
            metadata["query"] = primary_query(metadata["query"], target_name=target_name)
        rewritten.append({**trigger, "metadata": metadata} if metadata else dict(trigger))
    return rewritten


def _primary_hpa_name(spec: dict[str, Any]) -> None:
    """Suffix the HPA name KEDA is told to use, if any: the target's HPA keeps its name."""
    advanced = spec.get("advanced")
    hpa_config = advanced.get("horizontalPodAutoscalerConfig") if advanced else None
    if isinstance(hpa_config, dict) and isinstance(hpa_config.get("name"), str):
        hpa_config["name"] = f"{hpa_config['name']}{PRIMARY_SUFFIX}"


def primary_scaled_object(  # noqa: PLR0913 - keyword-only: the Canary's settings
    scaled_object: Mapping[str, Any],
    *,
    target_name: str,
    owner: CanaryRef,
    queries: Mapping[str, str] | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
) -> dict[str, Any]:
    """The full manifest of `<so>-primary`, scaling `<target_name>-primary`."""
    spec = copy.deepcopy(dict(scaled_object.get("spec") or {}))
    scale_target = dict(spec.get("scaleTargetRef") or {})
    kind, scaled = scale_target.get("kind", DEPLOYMENT.kind), scale_target.get("name")
    if kind != DEPLOYMENT.kind or scaled != target_name:
        raise AutoscalerError(
            f"{_address(scaled_object)} ({REF_FIELD}) scales {kind} {scaled}, not the target "
            f"Deployment {target_name}"
        )
    spec["scaleTargetRef"] = {**scale_target, "name": primary_name(target_name)}
    spec["triggers"] = primary_triggers(
        list(spec.get("triggers") or []), target_name=target_name, queries=queries
    )
    _primary_hpa_name(spec)
    if min_replicas is not None:
        spec["minReplicaCount"] = min_replicas
    if max_replicas is not None:
        spec["maxReplicaCount"] = max_replicas
    low = spec.get("minReplicaCount", KEDA_MIN_REPLICAS)
    high = spec.get("maxReplicaCount", KEDA_MAX_REPLICAS)
    if isinstance(low, int) and isinstance(high, int) and low > high:
        raise AutoscalerError(
            f"the primary's ScaledObject would have minReplicaCount {low} > maxReplicaCount "
            f"{high}: spec.autoscalerRef.primaryScalerReplicas contradicts the bounds of "
            f"{_address(scaled_object)}"
        )
    metadata = scaled_object.get("metadata") or {}
    annotations = {
        key: value
        for key, value in copied_metadata(metadata.get("annotations")).items()
        if key not in _PAUSES
    }
    return {
        "apiVersion": SCALED_OBJECT.api_version,
        "kind": SCALED_OBJECT.kind,
        "metadata": {
            "name": primary_autoscaler_name(str(metadata.get("name"))),
            "namespace": owner.namespace,
            "labels": copied_metadata(metadata.get("labels")),
            "annotations": {**annotations, **GITOPS_OPT_OUT},
            "ownerReferences": [owner.owner_reference()],
        },
        "spec": spec,
    }


def replica_bounds(scaled_object: Mapping[str, Any]) -> ReplicaBounds:
    """The ScaledObject's bounds, KEDA's defaults where unset; a canary runs at least 1."""
    spec = scaled_object.get("spec") or {}
    low = spec.get("minReplicaCount", KEDA_MIN_REPLICAS)
    high = spec.get("maxReplicaCount", KEDA_MAX_REPLICAS)
    if not isinstance(low, int) or not isinstance(high, int):
        raise AutoscalerError(
            f"{_address(scaled_object)} has no integer minReplicaCount and maxReplicaCount"
        )
    if low > high:
        raise AutoscalerError(
            f"{_address(scaled_object)} has minReplicaCount {low} > maxReplicaCount {high}"
        )
    return ReplicaBounds(max(low, 1), max(high, 1))


def is_paused(scaled_object: Mapping[str, Any]) -> bool:
    """Whether the ScaledObject holds its target at zero replicas."""
    annotations = (scaled_object.get("metadata") or {}).get("annotations") or {}
    return annotations.get(PAUSED_REPLICAS) == "0"


def pause_patch(*, paused: bool) -> dict[str, Any]:
    """A merge patch pausing the ScaledObject at zero replicas, or removing that pause."""
    return {"metadata": {"annotations": {PAUSED_REPLICAS: "0" if paused else None}}}
