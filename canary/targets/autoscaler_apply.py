"""The cluster calls for a target scaled by an HPA: copy the HPA for the primary, hand the
primary's replicas to that copy, and count the canary's replicas within the target HPA's bounds.

Every call is absolute, so repeating it is harmless. The target's HPA is only ever read. What to
write is built by `canary.targets.autoscaler`; this module must not decide when to act.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from canary.api.canary import AutoscalerRef
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import FIELD_MANAGER, HORIZONTAL_POD_AUTOSCALER, CanaryRef, Reader
from canary.targets.autoscaler import (
    REF_FIELD,
    AutoscalerError,
    applies_replicas,
    canary_replicas,
    primary_autoscaler,
    primary_autoscaler_name,
    replica_bounds,
    replicas_claim,
    without_replicas,
)

# Co-owns the primary's replicas at their last value while the controller's own apply stops
# setting them; the HPA takes them over from both at its first change (Kubernetes' documented
# way of handing a field to an autoscaler).
REPLICAS_MANAGER: Final = f"{FIELD_MANAGER}-replicas"


async def read_target_autoscaler(
    api: ApiClient, ref: AutoscalerRef, *, namespace: str
) -> dict[str, Any]:
    """The HPA `spec.autoscalerRef` names; `AutoscalerError` when it does not exist."""
    hpa = await resources.get(api, HORIZONTAL_POD_AUTOSCALER, ref.name, namespace=namespace)
    if hpa is None:
        raise AutoscalerError(
            f"HorizontalPodAutoscaler {namespace}/{ref.name} not found ({REF_FIELD}); "
            "create it, or remove spec.autoscalerRef"
        )
    return hpa


async def apply_primary_autoscaler(
    api: ApiClient, ref: AutoscalerRef, *, target_name: str, owner: CanaryRef
) -> dict[str, Any]:
    """Apply `<hpa>-primary` from the target's HPA as it is now; the manifest applied."""
    hpa = await read_target_autoscaler(api, ref, namespace=owner.namespace)
    bounds = ref.primary_scaler_replicas
    manifest = primary_autoscaler(
        hpa,
        target_name=target_name,
        owner=owner,
        min_replicas=bounds.min_replicas if bounds else None,
        max_replicas=bounds.max_replicas if bounds else None,
    )
    await resources.apply(api, manifest)
    return manifest


async def primary_autoscaler_exists(
    read: Reader, ref: AutoscalerRef | None, *, namespace: str
) -> bool:
    """Whether `<hpa>-primary` exists (True when the Canary names no HPA: none is needed)."""
    if ref is None:
        return True
    name = primary_autoscaler_name(ref.name)
    return await read(HORIZONTAL_POD_AUTOSCALER, namespace, name) is not None


async def apply_autoscaled_primary(
    api: ApiClient, manifest: Mapping[str, Any], *, live: Mapping[str, Any] | None
) -> None:
    """Apply the primary Deployment `manifest`, leaving its replicas to its HPA.

    A new primary starts at the manifest's replicas (the target's), then its HPA decides. An
    existing one keeps its replicas whatever the manifest says; if an earlier apply of this
    controller set them (before the Canary named an HPA), they are handed over first, because
    an apply that stops setting them would otherwise reset them to 1.
    """
    if live is None:
        created = await resources.apply(api, manifest)
        await resources.apply(api, replicas_claim(created), field_manager=REPLICAS_MANAGER)
        return
    if applies_replicas(live, manager=FIELD_MANAGER):
        await resources.apply(api, replicas_claim(live), field_manager=REPLICAS_MANAGER)
    await resources.apply(api, without_replicas(manifest))


async def canary_replicas_within_bounds(
    api: ApiClient,
    ref: AutoscalerRef,
    *,
    target: Mapping[str, Any],
    primary: Mapping[str, Any] | None,
    namespace: str,
) -> int:
    """The canary's replicas for a run, within the bounds of the target's HPA."""
    hpa = await read_target_autoscaler(api, ref, namespace=namespace)
    return canary_replicas(target, primary=primary, bounds=replica_bounds(hpa))
