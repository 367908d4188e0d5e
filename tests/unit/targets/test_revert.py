"""Making a parked target serve again: the primary's replicas and, if never promoted, template."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.core.revision import revision
from canary.kube.resources import CanaryRef
from canary.targets.configs import with_copies
from canary.targets.deployment import (
    REVISION_ANNOTATION,
    SelectorLabel,
    TargetError,
    primary_deployment,
    primary_template,
)
from canary.targets.revert import merge_patch, revert_patch, target_template_from_primary

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
LABEL = SelectorLabel("app", "podinfo")
FLUX_MARK = "kustomize.toolkit.fluxcd.io/checksum"


def template(image: str = "podinfo:6.0.0", **annotations: str) -> dict[str, Any]:
    spread = {
        "maxSkew": 1,
        "topologyKey": "zone",
        "labelSelector": {"matchLabels": {"app": "podinfo"}},
    }
    anti = {
        "labelSelector": {
            "matchExpressions": [{"key": "app", "operator": "In", "values": ["podinfo", "x"]}]
        },
        "topologyKey": "host",
    }
    metadata: dict[str, Any] = {"labels": {"app": "podinfo", "tier": "web"}}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "metadata": metadata,
        "spec": {
            "containers": [{"name": "podinfo", "image": image}],
            "topologySpreadConstraints": [spread],
            "affinity": {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [anti],
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 1, "podAffinityTerm": copy.deepcopy(anti)}
                    ],
                }
            },
        },
    }


def target(tpl: dict[str, Any], *, replicas: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "7"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "podinfo"}},
            "template": tpl,
        },
    }


def primary_of(tpl: dict[str, Any], *, replicas: int = 3) -> dict[str, Any]:
    primary = primary_deployment(
        target(tpl, replicas=replicas), template=tpl, owner=OWNER, revision=revision(tpl)
    )
    primary["spec"]["replicas"] = replicas
    return primary


def test_undoing_the_primary_template_gives_the_target_template_back() -> None:
    original = template("podinfo:6.0.0", team="a")
    built = primary_template(original, label=LABEL, revision="r1")
    assert built != original
    assert target_template_from_primary(built, label=LABEL) == original


def test_a_steady_target_is_only_scaled_to_the_primary_replicas() -> None:
    tpl = template(**{FLUX_MARK: "x"})  # the primary never gets Flux's marks: no difference
    change = revert_patch(target(tpl), primary=primary_of(tpl, replicas=3))
    assert change is not None
    assert change.patch == {"metadata": {"resourceVersion": "7"}, "spec": {"replicas": 3}}
    assert (change.replicas, change.restored_revision, change.replaced_images) == (3, "", "")


def test_a_target_already_serving_needs_nothing() -> None:
    tpl = template()
    assert revert_patch(target(tpl, replicas=3), primary=primary_of(tpl, replicas=3)) is None


def test_a_never_promoted_template_is_replaced_by_the_primary_one() -> None:
    good = template("podinfo:6.0.0", **{FLUX_MARK: "x"})
    bad = template("podinfo:6.0.1", **{FLUX_MARK: "y", "meshsim/error-rate": "0.3"})
    primary = primary_of(good)
    change = revert_patch(target(bad), primary=primary)
    assert change is not None
    assert change.replicas == 3
    assert change.restored_revision == revision(good)
    assert change.replaced_images == "podinfo:6.0.1"
    patch = change.patch["spec"]["template"]
    assert patch["metadata"]["annotations"] == {"meshsim/error-rate": None}  # Flux's mark stays
    assert patch["spec"] == {"containers": [{"name": "podinfo", "image": "podinfo:6.0.0"}]}
    restored = _patched(bad, patch)
    assert restored["metadata"]["annotations"] == {FLUX_MARK: "y"}
    assert revision(primary_template(restored, label=LABEL, revision="")) == revision(
        primary["spec"]["template"]
    )


def test_without_a_primary_the_target_keeps_its_template_and_its_own_replicas() -> None:
    change = revert_patch(target(template("podinfo:6.0.1"), replicas=2), primary=None)
    assert change is None
    zero = revert_patch(target(template("podinfo:6.0.1")), primary=None)
    assert zero is not None
    assert zero.patch["spec"] == {"replicas": 1}


def test_a_target_without_a_selector_label_cannot_be_reverted() -> None:
    broken = target(template())
    broken["spec"]["selector"] = {"matchLabels": {"tier": "web"}}
    with pytest.raises(TargetError):
        revert_patch(broken, primary=None)


def test_merge_patch_nulls_removed_keys_and_replaces_lists_whole() -> None:
    old = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2], "f": "same"}
    new = {"a": 2, "b": {"c": 2}, "e": [1], "f": "same", "g": {"h": 1}}
    assert merge_patch(old, new) == {"a": 2, "b": {"d": None}, "e": [1], "g": {"h": 1}}
    assert merge_patch(new, new) == {}


def _patched(document: Any, patch: Any) -> Any:
    """RFC 7386 applied, as the API server does."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _patched(result.get(key), value)
    return result


def test_the_revision_annotation_is_not_carried_back() -> None:
    built = primary_template(template(), label=LABEL, revision="r1")
    assert REVISION_ANNOTATION not in (
        target_template_from_primary(built, label=LABEL)["metadata"].get("annotations") or {}
    )


def with_configs(tpl: dict[str, Any]) -> dict[str, Any]:
    """`tpl` using ConfigMaps and Secrets in every place a pod template can name them."""
    result = copy.deepcopy(tpl)
    container = result["spec"]["containers"][0]
    container["env"] = [
        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "a"}}},
        {"name": "B", "valueFrom": {"secretKeyRef": {"name": "token", "key": "b"}}},
    ]
    container["envFrom"] = [{"configMapRef": {"name": "env"}}, {"secretRef": {"name": "creds"}}]
    result["spec"]["initContainers"] = [copy.deepcopy(container) | {"name": "init"}]
    result["spec"]["volumes"] = [
        {"name": "v1", "configMap": {"name": "files"}},
        {"name": "v2", "secret": {"secretName": "certs"}},
        {
            "name": "v3",
            "projected": {"sources": [{"configMap": {"name": "p1"}}, {"secret": {"name": "p2"}}]},
        },
        {"name": "v4", "configMap": {"name": "untracked-primary"}},  # the user's own name
    ]
    return result


TRACKED = (
    "configmap/settings",
    "secret/token",
    "configmap/env",
    "secret/creds",
    "configmap/files",
    "secret/certs",
    "configmap/p1",
    "secret/p2",
)


def test_the_primary_config_copies_are_named_back_to_the_originals() -> None:
    original = with_configs(template())
    built = primary_template(with_copies(original, TRACKED), label=LABEL, revision="r1")
    assert built["spec"]["volumes"][0]["configMap"]["name"] == "files-primary"
    assert target_template_from_primary(built, label=LABEL, copies=TRACKED) == original


def test_a_primary_using_config_copies_is_no_reason_to_restore() -> None:
    tpl = with_configs(template())
    primary = primary_of(tpl)
    primary["spec"]["template"] = primary_template(
        with_copies(tpl, TRACKED), label=LABEL, revision=revision(tpl)
    )
    change = revert_patch(target(tpl), primary=primary, copies=TRACKED)
    assert change is not None
    assert "template" not in change.patch["spec"]
    bad = with_configs(template("podinfo:6.0.1"))
    restored = revert_patch(target(bad), primary=primary, copies=TRACKED)
    assert restored is not None
    assert _patched(bad, restored.patch["spec"]["template"]) == tpl  # the originals, not copies
