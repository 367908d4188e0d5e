"""The primary copy of a target Deployment, and whether a Deployment is rolled out and available.

A Canary releases a Deployment (the *target*) by keeping the last good version running as
`<target>-primary`. This module builds that primary's manifest (Flagger's semantics: a `-primary`
selector label, the target's rollout settings, a controller reference to the Canary) and judges
a Deployment's readiness from its status. It is pure: it never reads the cluster and never picks
the template itself: the caller says which template the primary runs, because recreating a lost
primary must use the last *promoted* template, never the target's current one.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from canary.api.base import parse_timestamp
from canary.core.model import WorkloadReadiness
from canary.kube.resources import DEPLOYMENT, CanaryRef

PRIMARY_SUFFIX: Final = "-primary"
# The selector labels a target may use, in order of preference (Flagger's -selector-labels).
SELECTOR_LABEL_KEYS: Final = ("app", "name", "app.kubernetes.io/name")
# The revision (canonical hash) of the template the primary runs; set on the Deployment and on its
# pod template, so that a promotion whose only change is a tracked config restarts the pods.
REVISION_ANNOTATION: Final = "canary.dev/revision"

# Metadata never copied to the primary: GitOps tools' ownership marks (they would prune or revert
# the primary) and bookkeeping that belongs to the target object itself.
_TOOLKIT_MARK: Final = "toolkit.fluxcd.io"
_NOT_COPIED: Final = frozenset(
    {"kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"}
)
_COPIED_SPEC_FIELDS: Final = (
    "minReadySeconds",
    "progressDeadlineSeconds",
    "revisionHistoryLimit",
    "strategy",
)


class TargetError(ValueError):
    """The target cannot be released as it is; a configuration error, not worth retrying."""


@dataclass(frozen=True)
class SelectorLabel:
    """The label that tells the target's pods (`value`) from the primary's (`primary_value`)."""

    key: str
    value: str

    @property
    def primary_value(self) -> str:
        return f"{self.value}{PRIMARY_SUFFIX}"


def primary_name(target_name: str) -> str:
    return f"{target_name}{PRIMARY_SUFFIX}"


def _name(deployment: Mapping[str, Any]) -> str:
    return str((deployment.get("metadata") or {}).get("name", "<unnamed>"))


def selector_label(target: Mapping[str, Any]) -> SelectorLabel:
    """The first of `app`, `name`, `app.kubernetes.io/name` in the target's selector matchLabels."""
    match_labels = ((target.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    for key in SELECTOR_LABEL_KEYS:
        value = match_labels.get(key)
        if isinstance(value, str) and value:
            return SelectorLabel(key, value)
    keys = ", ".join(SELECTOR_LABEL_KEYS)
    found = ", ".join(sorted(match_labels)) or "none"
    raise TargetError(
        f"deployment {_name(target)}: spec.selector.matchLabels must contain one of {keys} "
        f"(found: {found}); the primary copy is told apart by that label"
    )


def copied_metadata(
    metadata: Mapping[str, str] | None, *, prefixes: Iterable[str] | None
) -> dict[str, str]:
    """`metadata` without toolkit and bookkeeping keys; with `prefixes`, only keys matching one."""
    kept: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if _TOOLKIT_MARK in key or key in _NOT_COPIED:
            continue
        if prefixes is not None and not any(p == "*" or key.startswith(p) for p in prefixes):
            continue
        kept[key] = value
    return kept


def _suffix_selector(selector: Any, label: SelectorLabel) -> None:
    """In a pod label selector, point `label` at the primary's pods instead of the target's."""
    if not isinstance(selector, dict):
        return
    match_labels = selector.get("matchLabels") or {}
    if match_labels.get(label.key) == label.value:
        match_labels[label.key] = label.primary_value
    for expression in selector.get("matchExpressions") or []:
        if expression.get("key") == label.key:
            expression["values"] = [
                label.primary_value if v == label.value else v for v in expression.get("values", [])
            ]


def _suffix_scheduling_selectors(pod_spec: dict[str, Any], label: SelectorLabel) -> None:
    """Spread and anti-affinity rules written for the target's pods must apply to the primary's."""
    for constraint in pod_spec.get("topologySpreadConstraints") or []:
        _suffix_selector(constraint.get("labelSelector"), label)
    anti_affinity = (pod_spec.get("affinity") or {}).get("podAntiAffinity") or {}
    for term in anti_affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []:
        _suffix_selector(term.get("labelSelector"), label)
    for weighted in anti_affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
        _suffix_selector((weighted.get("podAffinityTerm") or {}).get("labelSelector"), label)


def primary_template(
    template: Mapping[str, Any], *, label: SelectorLabel, revision: str
) -> dict[str, Any]:
    """The primary's pod template from a target pod template (as written, without suffixes)."""
    result = copy.deepcopy(dict(template))
    metadata = dict(result.get("metadata") or {})
    metadata.pop("creationTimestamp", None)
    metadata["labels"] = {**(metadata.get("labels") or {}), label.key: label.primary_value}
    metadata["annotations"] = {
        **copied_metadata(metadata.get("annotations"), prefixes=None),
        REVISION_ANNOTATION: revision,
    }
    result["metadata"] = metadata
    spec = result.get("spec")
    if isinstance(spec, dict):
        _suffix_scheduling_selectors(spec, label)
    return result


def primary_deployment(  # noqa: PLR0913 - keyword-only: what to copy, from where, owned by whom
    target: Mapping[str, Any],
    *,
    template: Mapping[str, Any],
    owner: CanaryRef,
    revision: str,
    label_prefixes: Iterable[str] = (),
    manage_replicas: bool = True,
) -> dict[str, Any]:
    """The full manifest of `<target>-primary`, running `template` (of revision `revision`).

    `template` is a target pod template as the target had it when `revision` was promoted (or the
    target's current one on first sight); the builder adds the `-primary` selector label. Rollout
    settings and replicas come from `target`. Labels are copied only when their key starts with
    one of `label_prefixes` ("*" for all); `manage_replicas=False` leaves replicas to an autoscaler.
    """
    label = selector_label(target)
    metadata = target.get("metadata") or {}
    target_spec = target.get("spec") or {}
    name = primary_name(str(metadata.get("name")))
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {label.key: label.primary_value}},
        "template": primary_template(template, label=label, revision=revision),
    }
    if manage_replicas:
        replicas = target_spec.get("replicas")
        spec["replicas"] = replicas if isinstance(replicas, int) and replicas > 0 else 1
    for field in _COPIED_SPEC_FIELDS:
        if field in target_spec:
            spec[field] = copy.deepcopy(target_spec[field])
    return {
        "apiVersion": DEPLOYMENT.api_version,
        "kind": DEPLOYMENT.kind,
        "metadata": {
            "name": name,
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


def primary_from_target(
    target: Mapping[str, Any],
    *,
    owner: CanaryRef,
    revision: str,
    label_prefixes: Iterable[str] = (),
) -> dict[str, Any]:
    """The primary running the target's current template: only on first sight, or to promote."""
    template = (target.get("spec") or {}).get("template")
    if not isinstance(template, Mapping):
        raise TargetError(f"deployment {_name(target)} has no spec.template")
    return primary_deployment(
        target, template=template, owner=owner, revision=revision, label_prefixes=label_prefixes
    )


def replicas_to_scale_up(target: Mapping[str, Any], *, primary: Mapping[str, Any] | None) -> int:
    """The canary's replicas when it starts: its own if > 0, else the primary's, else 1."""
    for deployment in (target, primary or {}):
        replicas = (deployment.get("spec") or {}).get("replicas")
        if isinstance(replicas, int) and replicas > 0:
            return replicas
    return 1


# Readiness (Flagger's isDeploymentReady, with messages that say what to look at).


def _condition(deployment: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for condition in (deployment.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def _unavailable_too_long(
    deployment: Mapping[str, Any], *, progress_deadline_seconds: float, now: datetime
) -> bool:
    """Unavailable (too few replicas) for longer than the Canary's own progress deadline."""
    available = _condition(deployment, "Available")
    if (
        available.get("status") != "False"
        or available.get("reason") != "MinimumReplicasUnavailable"
    ):
        return False
    since = parse_timestamp(available.get("lastTransitionTime")) or parse_timestamp(
        available.get("lastUpdateTime")
    )
    return since is not None and since + timedelta(seconds=progress_deadline_seconds) < now


def deployment_readiness(
    deployment: Mapping[str, Any] | None,
    *,
    progress_deadline_seconds: float,
    ready_threshold_percent: int = 100,
    now: datetime,
) -> WorkloadReadiness:
    """Whether `deployment` has rolled out its current spec and enough replicas are available."""
    if deployment is None:
        return WorkloadReadiness(exists=False, ready=False, message="deployment does not exist")
    name = _name(deployment)
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    generation = int((deployment.get("metadata") or {}).get("generation") or 0)
    observed = int(status.get("observedGeneration") or 0)
    waiting = f"waiting for rollout of deployment {name} to finish"
    if observed < generation:
        return WorkloadReadiness(
            exists=True,
            ready=False,
            message=f"{waiting}: observed generation behind ({observed} of {generation})",
        )
    progressing = _condition(deployment, "Progressing")
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        detail = progressing.get("message") or "no progress"
        return WorkloadReadiness(
            exists=True,
            ready=False,
            deadline_exceeded=True,
            message=f"deployment {name} exceeded its progress deadline: {detail}",
        )
    desired = int(spec.get("replicas", 1))
    replicas = int(status.get("replicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    needed = updated * ready_threshold_percent // 100
    if updated < desired:
        problem = f"{updated} of {desired} new replicas have been updated"
    elif replicas > updated:
        problem = f"{replicas - updated} old replicas are pending termination"
    elif available < needed:
        problem = (
            f"{available} of {updated} updated replicas are available "
            f"(ready threshold {ready_threshold_percent}%)"
        )
    else:
        return WorkloadReadiness(
            exists=True,
            ready=True,
            message=f"deployment {name} is ready: {available} of {desired} replicas available",
        )
    if _unavailable_too_long(
        deployment, progress_deadline_seconds=progress_deadline_seconds, now=now
    ):
        return WorkloadReadiness(
            exists=True,
            ready=False,
            deadline_exceeded=True,
            message=(
                f"deployment {name} has not been available for {progress_deadline_seconds:g} s "
                f"(the progress deadline): {problem}"
            ),
        )
    return WorkloadReadiness(exists=True, ready=False, message=f"{waiting}: {problem}")
