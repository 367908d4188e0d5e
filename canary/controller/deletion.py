"""What deleting a Canary means for the controller: its finalizer, and what a revert needs to know.

`spec.revertOnDeletion: true` keeps the finalizer `canary.dev/finalizer` on the Canary, so that
`kubectl delete` (or a GitOps prune) waits until the controller has made the target Deployment
serve again and pointed the traffic at it (`canary.controller.finalize` does that). Setting the
field back to false removes the finalizer, even while the Canary is being deleted: that is the
way to let a Canary go without reverting.

Everything here reads the Canary as the raw object, leniently, never through the models: a
Canary whose spec the controller cannot use (it fails validation, or names something this version
does not support) must still be deletable. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from canary.api.base import parse_timestamp

FINALIZER: Final = "canary.dev/finalizer"
TERMINATING: Final = "Terminating"  # Flagger's phase while a Canary is being finalized
DEFAULT_PROGRESS_DEADLINE: Final = 600  # seconds, as spec.progressDeadlineSeconds defaults


@dataclass(frozen=True)
class RevertSpec:
    """The parts of a Canary's spec a revert needs."""

    namespace: str
    name: str
    uid: str
    target: str  # the target's name
    apex: str  # the apex Service's name (service.name, else the target's)
    provider: str  # the traffic provider (spec.provider, else the controller's default)
    progress_deadline_seconds: int  # how long to wait for the target to be ready
    scaled_object: str = ""  # the target's KEDA ScaledObject (autoscalerRef), resumed on revert
    target_kind: str = "Deployment"  # targetRef.kind: Deployment, DaemonSet or Service (Knative)


def _target_kind(kind: object) -> str:
    """targetRef.kind as read leniently: one of the kinds a Canary releases, else Deployment."""
    return kind if kind in ("DaemonSet", "Service") else "Deployment"


def _metadata(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = raw.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _spec(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = raw.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def finalizers(raw: Mapping[str, Any]) -> list[str]:
    found = _metadata(raw).get("finalizers")
    return [str(f) for f in found] if isinstance(found, list) else []


def is_deleting(raw: Mapping[str, Any]) -> bool:
    """Whether the object has been deleted and waits only for its finalizers."""
    return bool(_metadata(raw).get("deletionTimestamp"))


def wants_revert(raw: Mapping[str, Any]) -> bool:
    return _spec(raw).get("revertOnDeletion") is True


def finalizer_patch(raw: Mapping[str, Any], *, keep: bool) -> dict[str, Any] | None:
    """The merge patch that adds (`keep`) or removes the finalizer; None when nothing changes.

    It replaces the whole list, so it carries the resourceVersion read: a finalizer another
    controller added meanwhile makes it fail with 409 instead of being dropped.
    """
    current = finalizers(raw)
    if (FINALIZER in current) == keep:
        return None
    wanted = [*current, FINALIZER] if keep else [f for f in current if f != FINALIZER]
    return {
        "metadata": {
            "finalizers": wanted or None,
            "resourceVersion": _metadata(raw).get("resourceVersion"),
        }
    }


def revert_spec(raw: Mapping[str, Any], *, default_provider: str) -> RevertSpec | None:
    """What a revert needs, read leniently; None when the spec names no target Deployment."""
    metadata, spec = _metadata(raw), _spec(raw)
    target_ref = spec.get("targetRef")
    if not isinstance(target_ref, Mapping) or not _text(target_ref.get("name")):
        return None
    target = _text(target_ref.get("name"))
    service = spec.get("service")
    apex = _text(service.get("name")) if isinstance(service, Mapping) else ""
    deadline = spec.get("progressDeadlineSeconds")
    autoscaler = spec.get("autoscalerRef")
    scaled_object = (
        _text(autoscaler.get("name"))
        if isinstance(autoscaler, Mapping) and autoscaler.get("kind") == "ScaledObject"
        else ""
    )
    return RevertSpec(
        namespace=_text(metadata.get("namespace")),
        name=_text(metadata.get("name")),
        uid=_text(metadata.get("uid")),
        target=target,
        apex=apex or target,
        provider=_text(spec.get("provider")) or default_provider,
        progress_deadline_seconds=deadline
        if isinstance(deadline, int) and not isinstance(deadline, bool) and deadline > 0
        else DEFAULT_PROGRESS_DEADLINE,
        scaled_object=scaled_object,
        target_kind=_target_kind(target_ref.get("kind")),
    )


def ready_deadline(raw: Mapping[str, Any], spec: RevertSpec) -> datetime | None:
    """Until when the revert waits for the target to be ready: the progress deadline after the
    revert began (`status.phaseSince` of phase Terminating, persisted, so a restart of the
    controller does not extend the wait, and a controller that was down when the Canary was
    deleted still gives the target its full time). Without it, after the deletion's time; None
    when neither can be read."""
    status = raw.get("status")
    began = None
    if isinstance(status, Mapping) and status.get("phase") == TERMINATING:
        began = parse_timestamp(status.get("phaseSince"))
    began = began or parse_timestamp(_metadata(raw).get("deletionTimestamp"))
    if began is None:
        return None
    return began + timedelta(seconds=spec.progress_deadline_seconds)


def terminating_status(raw: Mapping[str, Any], *, now: datetime) -> dict[str, Any] | None:
    """The status with phase Terminating and `Ready=Unknown`; None when it has it already."""
    status = dict(raw.get("status") or {})
    if status.get("phase") == TERMINATING:
        return None
    stamp = now.isoformat().replace("+00:00", "Z")
    generation = _metadata(raw).get("generation")
    ready: dict[str, Any] = {
        "type": "Ready",
        "status": "Unknown",
        "reason": TERMINATING,
        "message": "The canary is being deleted; its target is being reverted.",
        "lastTransitionTime": stamp,
    }
    if isinstance(generation, int):
        ready["observedGeneration"] = generation
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
    return {
        **status,
        "phase": TERMINATING,
        "lastTransitionTime": stamp,
        "phaseSince": stamp,
        "conditions": [*conditions, ready],
    }
