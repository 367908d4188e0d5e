"""The primary's copy of the target's HorizontalPodAutoscaler, and replica counts an HPA bounds.

A Canary whose target is scaled by an HPA (`spec.autoscalerRef`) gives the primary an HPA of its
own, `<hpa>-primary`: the target HPA's spec (metrics, behavior, bounds) with `scaleTargetRef`
pointing at `<target>-primary` and, where `primaryScalerReplicas` says so, other bounds. The
target's HPA stays as its owner wrote it: it is idle while the target is scaled to zero and
scales the canary during a run. From then on the primary's replicas belong to its HPA, so this
module also says whether the controller's own apply still claims them.

It is pure: it builds manifests and counts, never reads the cluster, and never builds anything
that would write the target's HPA.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from canary.kube.resources import DEPLOYMENT, HORIZONTAL_POD_AUTOSCALER, CanaryRef
from canary.targets.deployment import PRIMARY_SUFFIX, primary_name, replicas_to_scale_up

# The same two annotations every router object carries (canary.routers.base.GITOPS_OPT_OUT;
# targets may not import routers): Flux must not prune or revert what the controller generates.
GITOPS_OPT_OUT: Final[Mapping[str, str]] = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}
# Metadata of the target's HPA never copied: GitOps ownership marks and kubectl's bookkeeping.
_TOOLKIT_MARK: Final = "toolkit.fluxcd.io"
_NOT_COPIED: Final = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})
REF_FIELD: Final = "spec.autoscalerRef.name"


class AutoscalerError(ValueError):
    """The referenced HPA cannot be copied as it is; a configuration error, not worth retrying."""


@dataclass(frozen=True)
class ReplicaBounds:
    """An HPA's minReplicas and maxReplicas."""

    minimum: int
    maximum: int

    def clamp(self, replicas: int) -> int:
        return min(max(replicas, self.minimum), self.maximum)


def primary_autoscaler_name(hpa_name: str) -> str:
    return f"{hpa_name}{PRIMARY_SUFFIX}"


def _address(hpa: Mapping[str, Any]) -> str:
    metadata = hpa.get("metadata") or {}
    return f"{metadata.get('namespace', '')}/{metadata.get('name', '<unnamed>')}"


def replica_bounds(hpa: Mapping[str, Any]) -> ReplicaBounds:
    """The HPA's bounds (minReplicas defaults to 1, as in Kubernetes)."""
    spec = hpa.get("spec") or {}
    minimum, maximum = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if not isinstance(minimum, int) or not isinstance(maximum, int):
        raise AutoscalerError(
            f"HorizontalPodAutoscaler {_address(hpa)} has no integer minReplicas and maxReplicas"
        )
    if minimum > maximum:
        raise AutoscalerError(
            f"HorizontalPodAutoscaler {_address(hpa)} would have minReplicas {minimum} > "
            f"maxReplicas {maximum}"
        )
    return ReplicaBounds(max(minimum, 1), maximum)


def copied_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    return {
        key: value
        for key, value in (metadata or {}).items()
        if _TOOLKIT_MARK not in key and key not in _NOT_COPIED
    }


def primary_autoscaler(
    hpa: Mapping[str, Any],
    *,
    target_name: str,
    owner: CanaryRef,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
) -> dict[str, Any]:
    """The full manifest of `<hpa>-primary`, scaling `<target_name>-primary` as `hpa` scales
    the target, within `min_replicas`/`max_replicas` where given (primaryScalerReplicas)."""
    spec = copy.deepcopy(dict(hpa.get("spec") or {}))
    scale_target = dict(spec.get("scaleTargetRef") or {})
    kind, scaled = scale_target.get("kind"), scale_target.get("name")
    if kind != DEPLOYMENT.kind or scaled != target_name:
        raise AutoscalerError(
            f"HorizontalPodAutoscaler {_address(hpa)} ({REF_FIELD}) scales {kind} {scaled}, "
            f"not the target Deployment {target_name}"
        )
    spec["scaleTargetRef"] = {**scale_target, "name": primary_name(target_name)}
    if min_replicas is not None:
        spec["minReplicas"] = min_replicas
    if max_replicas is not None:
        spec["maxReplicas"] = max_replicas
    low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        raise AutoscalerError(
            f"the primary's HorizontalPodAutoscaler would have minReplicas {low} > maxReplicas "
            f"{high}: spec.autoscalerRef.primaryScalerReplicas contradicts the bounds of "
            f"HorizontalPodAutoscaler {_address(hpa)}"
        )
    metadata = hpa.get("metadata") or {}
    return {
        "apiVersion": HORIZONTAL_POD_AUTOSCALER.api_version,
        "kind": HORIZONTAL_POD_AUTOSCALER.kind,
        "metadata": {
            "name": primary_autoscaler_name(str(metadata.get("name"))),
            "namespace": owner.namespace,
            "labels": copied_metadata(metadata.get("labels")),
            "annotations": {**copied_metadata(metadata.get("annotations")), **GITOPS_OPT_OUT},
            "ownerReferences": [owner.owner_reference()],
        },
        "spec": spec,
    }


def canary_replicas(
    target: Mapping[str, Any], *, primary: Mapping[str, Any] | None, bounds: ReplicaBounds
) -> int:
    """The canary's replicas when a run starts: as without an HPA (its own if > 0, else the
    primary's), within the target HPA's bounds, so that the HPA takes over without a jump."""
    return bounds.clamp(replicas_to_scale_up(target, primary=primary))


def applies_replicas(deployment: Mapping[str, Any], *, manager: str) -> bool:
    """Whether `manager`'s server-side apply owns the Deployment's `spec.replicas`.

    If it does, an apply of that manager that leaves replicas out makes Kubernetes reset them
    to 1 (a field its only owner stops setting is removed, then defaulted).
    """
    for entry in (deployment.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") != manager or entry.get("operation") != "Apply":
            continue
        if "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {}):
            return True
    return False


def replicas_claim(deployment: Mapping[str, Any]) -> dict[str, Any]:
    """An apply patch that sets only `spec.replicas`, to their current value."""
    metadata = deployment.get("metadata") or {}
    return {
        "apiVersion": DEPLOYMENT.api_version,
        "kind": DEPLOYMENT.kind,
        "metadata": {"name": metadata.get("name"), "namespace": metadata.get("namespace")},
        "spec": {"replicas": (deployment.get("spec") or {}).get("replicas", 1)},
    }


def without_replicas(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """`manifest` with `spec.replicas` left out (left to an autoscaler)."""
    spec = {key: value for key, value in (manifest.get("spec") or {}).items() if key != "replicas"}
    return {**manifest, "spec": spec}
