"""Put a parked target Deployment back into service before its Canary is deleted.

Between releases the target sits at zero replicas and its `-primary` copy serves. Deleting the
Canary deletes the primary too (garbage collection), so with `revertOnDeletion` the target must
serve again first. This module builds the one patch that does it:

* **Replicas**: the primary's replica count (what served until now), else the target's own if
  above zero, else 1.
* **Template**: when the target holds a template that differs from what the primary runs (a
  release that failed, or one still under analysis), the primary's template goes back into the
  target. Deleting a Canary must not hand every user a version that did not pass analysis:
  Flagger scales the target up as it is, so a rolled-back version gets all the traffic. Here the
  users keep the version they had; the unreleased one stays in the user's manifests (or Git),
  and applying them again releases it, without a canary since the Canary is gone.

The comparison is made in the primary's form (`primary_template` of both), so metadata the
primary never receives (Flux's marks) is no difference, and it is kept when a template is
restored. What the primary builder changed is undone: the `-primary` selector label value, the
revision annotation, the spread and anti-affinity selectors, and the names of the `-primary`
copies of tracked ConfigMaps and Secrets (the copies go with the Canary; the target uses the
originals). The originals' content is the user's and is never written: when it changed since the
last promotion, the target runs the promoted template with that newer content.

Pure: it reads and writes nothing, and it does not decide when to revert.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from canary.core.revision import revision
from canary.targets.configs import without_copies
from canary.targets.daemonset import unpark_patch, unparked_template
from canary.targets.deployment import (
    REVISION_ANNOTATION,
    SelectorLabel,
    primary_template,
    selector_label,
)


@dataclass(frozen=True)
class TargetRevert:
    """The merge patch that makes the target serve, and what it changes (for events)."""

    patch: dict[str, Any]
    replicas: int | None  # the new replica count, None when unchanged
    restored_revision: str  # the revision put back from the primary, "" when the template stays
    replaced_images: str  # the images of the template it replaces, "" when the template stays
    unparked: bool = False  # a DaemonSet's parking node selector is removed


def _template(deployment: Mapping[str, Any] | None) -> dict[str, Any]:
    template = ((deployment or {}).get("spec") or {}).get("template")
    return dict(template) if isinstance(template, Mapping) else {}


def _annotations(template: Mapping[str, Any]) -> dict[str, Any]:
    return dict((template.get("metadata") or {}).get("annotations") or {})


def _selectors(pod_spec: Mapping[str, Any]) -> Iterator[Any]:
    """The pod label selectors of spread and anti-affinity rules (those the primary rewrites)."""
    for constraint in pod_spec.get("topologySpreadConstraints") or []:
        yield constraint.get("labelSelector")
    anti_affinity = (pod_spec.get("affinity") or {}).get("podAntiAffinity") or {}
    for term in anti_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        yield term.get("labelSelector")
    for weighted in anti_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        yield (weighted.get("podAffinityTerm") or {}).get("labelSelector")


def _unsuffix_selector(selector: Any, label: SelectorLabel) -> None:
    if not isinstance(selector, dict):
        return
    match_labels = selector.get("matchLabels") or {}
    if match_labels.get(label.key) == label.primary_value:
        match_labels[label.key] = label.value
    for expression in selector.get("matchExpressions") or []:
        if expression.get("key") == label.key:
            expression["values"] = [
                label.value if v == label.primary_value else v for v in expression.get("values", [])
            ]


def target_template_from_primary(
    template: Mapping[str, Any], *, label: SelectorLabel, copies: Collection[str] = ()
) -> dict[str, Any]:
    """The target pod template the primary's `template` was built from (`primary_template`
    undone: selector label value, revision annotation, spread and anti-affinity selectors, and
    the `-primary` copies of the configs in `copies`)."""
    result = copy.deepcopy(dict(template))
    metadata = dict(result.get("metadata") or {})
    labels = dict(metadata.get("labels") or {})
    if labels.get(label.key) == label.primary_value:
        labels[label.key] = label.value
    metadata["labels"] = labels
    annotations = {k: v for k, v in _annotations(result).items() if k != REVISION_ANNOTATION}
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    result["metadata"] = metadata
    spec = result.get("spec")
    if isinstance(spec, dict):
        for selector in _selectors(spec):
            _unsuffix_selector(selector, label)
    return without_copies(result, copies)


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns `old` into `new`: keys only `old` has become
    null, maps are compared key by key, anything else (lists included) is replaced whole."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            nested = merge_patch(before, value)
            if nested:
                patch[key] = nested
        elif key not in old or before != value:
            patch[key] = copy.deepcopy(value)
    return patch


def _replicas(target: Mapping[str, Any], primary: Mapping[str, Any] | None) -> int:
    for deployment in (primary or {}, target):
        replicas = (deployment.get("spec") or {}).get("replicas")
        if isinstance(replicas, int) and replicas > 0:
            return replicas
    return 1


def _restored(
    current: Mapping[str, Any],
    primary: Mapping[str, Any],
    *,
    label: SelectorLabel,
    copies: Collection[str],
) -> dict[str, Any] | None:
    """The primary's template in the target's form, or None when the target already runs it.

    Both are compared as the primary builder would make them, so what it drops (Flux's marks)
    is no difference; and what it dropped is kept when the primary's template is restored.
    """
    restored = target_template_from_primary(_template(primary), label=label, copies=copies)
    current_form = primary_template(current, label=label, revision="")
    if revision(primary_template(restored, label=label, revision="")) == revision(current_form):
        return None
    kept = _annotations(current_form)
    dropped = {k: v for k, v in _annotations(current).items() if k not in kept}
    if dropped:
        metadata = restored.setdefault("metadata", {})
        metadata["annotations"] = {**dropped, **(metadata.get("annotations") or {})}
    return restored


def _images(template: Mapping[str, Any]) -> str:
    containers = (template.get("spec") or {}).get("containers") or []
    return ", ".join(str(c.get("image")) for c in containers if isinstance(c, Mapping))


def revert_patch(
    target: Mapping[str, Any],
    *,
    primary: Mapping[str, Any] | None,
    copies: Collection[str] = (),
    replicated: bool = True,
) -> TargetRevert | None:
    """What makes `target` serve as `primary` did; None when it already does.

    `copies` are the keys (`configmap/<name>`, `secret/<name>`) of the configs the primary uses
    through this Canary's `<name>-primary` copies: the restored template names the originals.
    Without a primary (deleted, or never created) only the replicas change. The patch carries
    the target's resourceVersion: a template computed from a stale read must not be written.
    A DaemonSet (`replicated` False) has no replicas: its parking node selector is removed
    instead, and is no difference of template.
    Raises TargetError when the target has no selector label the primary could use.
    """
    label = selector_label(target)
    spec = target.get("spec") or {}
    as_is = _template(target)
    current = as_is if replicated else unparked_template(as_is)
    restored = None
    if primary is not None:
        restored = _restored(current, primary, label=label, copies=copies)
    changes: dict[str, Any] = {}
    if replicated and spec.get("replicas") != (replicas := _replicas(target, primary)):
        changes["replicas"] = replicas
    unpark = None if replicated else unpark_patch(target)
    if restored is not None:
        changes["template"] = merge_patch(as_is, restored)  # the parking keys go with it
    elif unpark is not None:
        changes["template"] = unpark["spec"]["template"]
    if not changes:
        return None
    resource_version = (target.get("metadata") or {}).get("resourceVersion")
    promoted = _annotations(_template(primary)).get(REVISION_ANNOTATION)
    return TargetRevert(
        patch={"metadata": {"resourceVersion": resource_version}, "spec": changes},
        replicas=changes.get("replicas"),
        restored_revision="" if restored is None else str(promoted or revision(restored)),
        replaced_images="" if restored is None else _images(current),
        unparked=unpark is not None,
    )
