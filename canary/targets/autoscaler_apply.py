"""The cluster calls for a target scaled by an HPA or a KEDA ScaledObject: copy the autoscaler
for the primary, hand the primary's replicas to that copy, count the canary's replicas within the
target autoscaler's bounds, and pause or resume the target's ScaledObject.

Every call is absolute, so repeating it is harmless. The target's HPA is only ever read; of the
target's ScaledObject, only KEDA's pause annotation is ever written. What to write is built by
`canary.targets.autoscaler` and `canary.targets.scaled_object`; this module must not decide when
to act.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from canary.api.canary import AutoscalerRef
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import (
    FIELD_MANAGER,
    HORIZONTAL_POD_AUTOSCALER,
    SCALED_OBJECT,
    CanaryRef,
    Reader,
    ResourceKind,
)
from canary.targets import scaled_object
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
PAUSED: Final = scaled_object.PAUSED_REPLICAS


def autoscaler_kind(ref: AutoscalerRef) -> ResourceKind:
    """The kind of object `spec.autoscalerRef` names (by its kind; its apiVersion is not read)."""
    return SCALED_OBJECT if ref.kind == SCALED_OBJECT.kind else HORIZONTAL_POD_AUTOSCALER


async def read_target_autoscaler(
    api: ApiClient, ref: AutoscalerRef, *, namespace: str
) -> dict[str, Any]:
    """The HPA or ScaledObject `spec.autoscalerRef` names; `AutoscalerError` when it does not
    exist (nor does its kind: KEDA's CRDs are not installed)."""
    kind = autoscaler_kind(ref)
    found = await resources.get(api, kind, ref.name, namespace=namespace)
    if found is None:
        installed = " (and KEDA's CRDs are installed)" if kind is SCALED_OBJECT else ""
        raise AutoscalerError(
            f"{kind.kind} {namespace}/{ref.name} not found ({REF_FIELD}); "
            f"create it{installed}, or remove spec.autoscalerRef"
        )
    return found


async def apply_primary_autoscaler(
    api: ApiClient, ref: AutoscalerRef, *, target_name: str, owner: CanaryRef
) -> dict[str, Any]:
    """Apply `<name>-primary` from the target's autoscaler as it is now; the manifest applied."""
    target = await read_target_autoscaler(api, ref, namespace=owner.namespace)
    bounds = ref.primary_scaler_replicas
    low = bounds.min_replicas if bounds else None
    high = bounds.max_replicas if bounds else None
    if ref.kind == SCALED_OBJECT.kind:
        manifest = scaled_object.primary_scaled_object(
            target,
            target_name=target_name,
            owner=owner,
            queries=ref.primary_scaler_queries,
            min_replicas=low,
            max_replicas=high,
        )
    else:
        manifest = primary_autoscaler(
            target, target_name=target_name, owner=owner, min_replicas=low, max_replicas=high
        )
    await resources.apply(api, manifest)
    return manifest


async def primary_autoscaler_exists(
    read: Reader, ref: AutoscalerRef | None, *, namespace: str
) -> bool:
    """Whether `<name>-primary` exists (True when the Canary names no autoscaler)."""
    if ref is None:
        return True
    name = primary_autoscaler_name(ref.name)
    return await read(autoscaler_kind(ref), namespace, name) is not None


async def pause_target_scaler(
    api: ApiClient, ref: AutoscalerRef | None, *, namespace: str, paused: bool
) -> None:
    """Pause the target's ScaledObject at zero replicas (no run), or resume it (a run).

    KEDA would otherwise scale the parked target up from zero. An HPA needs neither: it is
    inactive while its target has no replicas. Only the pause annotation is written, and only
    when it must change.
    """
    if ref is None or ref.kind != SCALED_OBJECT.kind:
        return
    target = await read_target_autoscaler(api, ref, namespace=namespace)
    await _set_paused(api, target, paused=paused)


async def resume_scaled_object(api: ApiClient, name: str, *, namespace: str) -> bool:
    """Remove the pause of the ScaledObject `name` (the revert of a deleted Canary gives the
    target back to KEDA, as Flagger does); whether it was paused. A missing one is no error."""
    found = await resources.get(api, SCALED_OBJECT, name, namespace=namespace)
    return found is not None and await _set_paused(api, found, paused=False)


async def _set_paused(api: ApiClient, target: Mapping[str, Any], *, paused: bool) -> bool:
    """Pause or resume the ScaledObject `target` if it is not so already; whether it changed."""
    metadata = target.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    if scaled_object.is_paused(target) if paused else PAUSED not in annotations:
        return False
    await resources.merge_patch(
        api,
        SCALED_OBJECT,
        str(metadata.get("name")),
        namespace=str(metadata.get("namespace")),
        patch=scaled_object.pause_patch(paused=paused),
    )
    return True


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
    """The canary's replicas for a run, within the bounds of the target's autoscaler."""
    found = await read_target_autoscaler(api, ref, namespace=namespace)
    if ref.kind == SCALED_OBJECT.kind:
        bounds = scaled_object.replica_bounds(found)
    else:
        bounds = replica_bounds(found)
    return canary_replicas(target, primary=primary, bounds=bounds)
