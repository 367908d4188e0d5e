"""The primary copy of a target DaemonSet, how a DaemonSet is parked, and whether it is rolled out.

A DaemonSet has no replica count: it runs one pod on every node its pod template may schedule on.
Flagger parks the target DaemonSet ("scales it to zero") by adding a node selector that matches
no node, and removes it to start the canary. This project does the same with its own key,
`canary.dev/scale-to-zero: "true"`; Flagger's `flagger.app/scale-to-zero` is honoured too, so a
target parked by Flagger reads as parked, is started by removing it, and never counts as a change
of revision. Parking keys are removed from every template before it is hashed or copied to the
primary, so parking and starting the canary never start a release.

DaemonSets are released blue/green with the `kubernetes` provider (all or nothing: a share of
pods cannot be set), or with any weights through a mesh, as Flagger does. The primary copy gets
the target's `minReadySeconds`, `revisionHistoryLimit` and `updateStrategy`; a target whose
`updateStrategy` is `OnDelete` is refused (its pods would never be updated by a promotion).

Pure, like `canary.targets.deployment`: it reads and writes nothing, and the caller says which
template the primary runs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, Final

from canary.core.model import WorkloadReadiness
from canary.kube.resources import DAEMON_SET, CanaryRef
from canary.targets.deployment import (
    REVISION_ANNOTATION,
    TargetError,
    copied_metadata,
    primary_name,
    primary_template,
    selector_label,
)

SCALE_TO_ZERO_KEY: Final = "canary.dev/scale-to-zero"
FLAGGER_SCALE_TO_ZERO_KEY: Final = "flagger.app/scale-to-zero"
PARKING_KEYS: Final = (SCALE_TO_ZERO_KEY, FLAGGER_SCALE_TO_ZERO_KEY)
_COPIED_SPEC_FIELDS: Final = ("minReadySeconds", "revisionHistoryLimit", "updateStrategy")


def _name(daemonset: Mapping[str, Any]) -> str:
    return str((daemonset.get("metadata") or {}).get("name", "<unnamed>"))


def _node_selector(template: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return ((template or {}).get("spec") or {}).get("nodeSelector") or {}


def _template_of(daemonset: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    template = ((daemonset or {}).get("spec") or {}).get("template")
    return template if isinstance(template, Mapping) else None


def unparked_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """`template` without the parking node selector keys (the template as the user wrote it).

    A node selector left empty is dropped, as the API server drops it after a merge patch that
    removes its last key: parked or not, the same template hashes the same.
    """
    result = copy.deepcopy(dict(template))
    spec = result.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("nodeSelector"), dict):
        selector = {k: v for k, v in spec["nodeSelector"].items() if k not in PARKING_KEYS}
        if selector:
            spec["nodeSelector"] = selector
        else:
            del spec["nodeSelector"]
    return result


def is_parked(daemonset: Mapping[str, Any] | None) -> bool:
    """Whether the DaemonSet's pods are kept off every node by a parking key."""
    selector = _node_selector(_template_of(daemonset))
    return any(key in selector for key in PARKING_KEYS)


def park_patch(daemonset: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch that parks the DaemonSet; None when it is parked already."""
    if _node_selector(_template_of(daemonset)).get(SCALE_TO_ZERO_KEY) == "true":
        return None
    selector = {SCALE_TO_ZERO_KEY: "true"}
    return {"spec": {"template": {"spec": {"nodeSelector": selector}}}}


def unpark_patch(daemonset: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch that removes every parking key; None when there is none."""
    present = [k for k in PARKING_KEYS if k in _node_selector(_template_of(daemonset))]
    if not present:
        return None
    selector: dict[str, Any] = dict.fromkeys(present)  # null deletes a key in a merge patch
    return {"spec": {"template": {"spec": {"nodeSelector": selector}}}}


def check_update_strategy(target: Mapping[str, Any]) -> None:
    """Refuse a target whose pods a promotion could not update (Flagger refuses it too)."""
    strategy = ((target.get("spec") or {}).get("updateStrategy") or {}).get("type")
    if strategy not in (None, "", "RollingUpdate"):
        raise TargetError(
            f"daemonset {_name(target)}: spec.updateStrategy.type is {strategy}; a released "
            "DaemonSet must use RollingUpdate (its primary's pods are updated by promotions)"
        )


def primary_daemonset(
    target: Mapping[str, Any],
    *,
    template: Mapping[str, Any],
    owner: CanaryRef,
    revision: str,
    label_prefixes: Iterable[str] = (),
) -> dict[str, Any]:
    """The full manifest of `<target>-primary`, running `template` (of revision `revision`).

    `template` is a target pod template (parked or not: parking keys are removed); the builder
    adds the `-primary` selector label. Labels are copied only when their key starts with one of
    `label_prefixes` ("*" for all).
    """
    check_update_strategy(target)
    label = selector_label(target)
    metadata = target.get("metadata") or {}
    target_spec = target.get("spec") or {}
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {label.key: label.primary_value}},
        "template": primary_template(unparked_template(template), label=label, revision=revision),
    }
    for field in _COPIED_SPEC_FIELDS:
        if field in target_spec:
            spec[field] = copy.deepcopy(target_spec[field])
    return {
        "apiVersion": DAEMON_SET.api_version,
        "kind": DAEMON_SET.kind,
        "metadata": {
            "name": primary_name(str(metadata.get("name"))),
            "namespace": owner.namespace,
            "labels": {
                **copied_metadata(metadata.get("labels"), prefixes=tuple(label_prefixes)),
                label.key: label.primary_value,
            },
            "annotations": {
                **copied_metadata(metadata.get("annotations"), prefixes=None),
                REVISION_ANNOTATION: revision,
            },
            "ownerReferences": [owner.owner_reference()],
        },
        "spec": spec,
    }


def daemonset_readiness(
    daemonset: Mapping[str, Any] | None,
    *,
    ready_threshold_percent: int = 100,
) -> WorkloadReadiness:
    """Whether `daemonset` has rolled out its current template on every node it should run on.

    As Flagger: every scheduled pod updated, and at least the threshold's share of them
    available. A DaemonSet has no progress deadline of its own: the Canary's is applied by the
    core from its persisted timestamps.
    """
    if daemonset is None:
        return WorkloadReadiness(exists=False, ready=False, message="daemonset does not exist")
    name = _name(daemonset)
    status = daemonset.get("status") or {}
    generation = int((daemonset.get("metadata") or {}).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    waiting = f"waiting for rollout of daemonset {name} to finish"
    if observed < generation:
        return WorkloadReadiness(
            exists=True,
            ready=False,
            message=f"{waiting}: observed generation behind ({observed} of {generation})",
        )
    desired = int(status.get("desiredNumberScheduled") or 0)
    updated = int(status.get("updatedNumberScheduled") or 0)
    available = int(status.get("numberAvailable") or 0)
    needed = desired * ready_threshold_percent // 100
    if updated < desired:
        problem = f"{updated} of {desired} scheduled pods have been updated"
    elif available < needed:
        problem = (
            f"{available} of {desired} updated pods are available "
            f"(ready threshold {ready_threshold_percent}%)"
        )
    else:
        return WorkloadReadiness(
            exists=True,
            ready=True,
            message=f"daemonset {name} is ready: {available} of {desired} pods available",
        )
    return WorkloadReadiness(exists=True, ready=False, message=f"{waiting}: {problem}")
