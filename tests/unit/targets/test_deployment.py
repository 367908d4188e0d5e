"""The primary copy of a target Deployment: names, labels, selector, template, owner, replicas."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.kube.resources import CanaryRef
from canary.targets.deployment import (
    REVISION_ANNOTATION,
    SelectorLabel,
    TargetError,
    primary_deployment,
    primary_from_target,
    replicas_to_scale_up,
    selector_label,
)

OWNER = CanaryRef(name="podinfo", namespace="test", uid="0b8f1e0c-uid")


def target(**spec_overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "podinfo"}},
        "minReadySeconds": 5,
        "progressDeadlineSeconds": 60,
        "revisionHistoryLimit": 4,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
        "template": {
            "metadata": {
                "creationTimestamp": None,
                "labels": {"app": "podinfo", "tier": "web"},
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "kustomize.toolkit.fluxcd.io/checksum": "x",
                },
            },
            "spec": {"containers": [{"name": "podinfo", "image": "podinfo:6.0.0"}]},
        },
    }
    spec.update(spec_overrides)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "labels": {"app": "podinfo", "team": "a", "kustomize.toolkit.fluxcd.io/name": "apps"},
            "annotations": {
                "owner": "team-a",
                "kustomize.toolkit.fluxcd.io/checksum": "y",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
                "deployment.kubernetes.io/revision": "7",
            },
        },
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("match_labels", "expected"),
    [
        ({"app": "a", "name": "n", "app.kubernetes.io/name": "k"}, SelectorLabel("app", "a")),
        ({"name": "n", "app.kubernetes.io/name": "k"}, SelectorLabel("name", "n")),
        (
            {"app.kubernetes.io/name": "k", "tier": "web"},
            SelectorLabel("app.kubernetes.io/name", "k"),
        ),
    ],
)
def test_selector_label_is_the_first_known_key_in_match_labels(
    match_labels: dict[str, str], expected: SelectorLabel
) -> None:
    assert selector_label(target(selector={"matchLabels": match_labels})) == expected


def test_a_selector_without_a_known_label_is_a_clear_error() -> None:
    with pytest.raises(TargetError) as raised:
        selector_label(target(selector={"matchLabels": {"tier": "web", "role": "api"}}))
    message = str(raised.value)
    assert "podinfo" in message
    assert "app, name, app.kubernetes.io/name" in message
    assert "found: role, tier" in message


def test_a_selector_with_only_match_expressions_is_an_error() -> None:
    with pytest.raises(TargetError, match="found: none"):
        selector_label(
            target(selector={"matchExpressions": [{"key": "app", "operator": "Exists"}]})
        )


def test_primary_is_named_labelled_and_selected_with_the_primary_suffix() -> None:
    primary = primary_from_target(target(), owner=OWNER, revision="rev-1")
    assert primary["apiVersion"] == "apps/v1"
    assert primary["kind"] == "Deployment"
    assert primary["metadata"]["name"] == "podinfo-primary"
    assert primary["metadata"]["namespace"] == "test"
    assert primary["metadata"]["labels"] == {"app": "podinfo-primary"}
    assert primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-primary"}}
    assert primary["spec"]["template"]["metadata"]["labels"] == {
        "app": "podinfo-primary",
        "tier": "web",
    }


def test_primary_has_a_controller_reference_to_the_canary() -> None:
    primary = primary_from_target(target(), owner=OWNER, revision="rev-1")
    assert primary["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Canary",
            "name": "podinfo",
            "uid": "0b8f1e0c-uid",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def test_primary_copies_rollout_settings_and_the_pod_spec() -> None:
    source = target()
    primary = primary_from_target(source, owner=OWNER, revision="rev-1")
    spec = primary["spec"]
    for field in ("minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit", "strategy"):
        assert spec[field] == source["spec"][field]
    assert spec["replicas"] == 3
    assert spec["template"]["spec"] == source["spec"]["template"]["spec"]


def test_primary_records_the_revision_and_drops_gitops_and_bookkeeping_metadata() -> None:
    primary = primary_from_target(target(), owner=OWNER, revision="rev-1")
    assert primary["metadata"]["annotations"] == {"owner": "team-a", REVISION_ANNOTATION: "rev-1"}
    template_metadata = primary["spec"]["template"]["metadata"]
    assert template_metadata["annotations"] == {
        "prometheus.io/scrape": "true",
        REVISION_ANNOTATION: "rev-1",
    }
    assert "creationTimestamp" not in template_metadata


def test_labels_are_copied_only_by_prefix_and_never_toolkit_ones() -> None:
    source = target()
    everything = primary_deployment(
        source, template=source["spec"]["template"], owner=OWNER, revision="r", label_prefixes=["*"]
    )
    assert everything["metadata"]["labels"] == {"app": "podinfo-primary", "team": "a"}
    by_prefix = primary_deployment(
        source,
        template=source["spec"]["template"],
        owner=OWNER,
        revision="r",
        label_prefixes=["te"],
    )
    assert by_prefix["metadata"]["labels"] == {"app": "podinfo-primary", "team": "a"}


@pytest.mark.parametrize(("replicas", "expected"), [(3, 3), (0, 1), (None, 1)])
def test_primary_replicas_are_the_targets_when_positive_else_one(
    replicas: int | None, expected: int
) -> None:
    source = target()
    if replicas is None:
        del source["spec"]["replicas"]
    else:
        source["spec"]["replicas"] = replicas
    assert primary_from_target(source, owner=OWNER, revision="r")["spec"]["replicas"] == expected


def test_replicas_can_be_left_to_an_autoscaler() -> None:
    source = target()
    primary = primary_deployment(
        source,
        template=source["spec"]["template"],
        owner=OWNER,
        revision="r",
        manage_replicas=False,
    )
    assert "replicas" not in primary["spec"]


def test_primary_runs_the_given_template_not_the_targets_current_one() -> None:
    promoted = copy.deepcopy(target()["spec"]["template"])
    source = target()
    source["spec"]["template"]["spec"]["containers"][0]["image"] = "podinfo:6.1.0-untested"
    primary = primary_deployment(source, template=promoted, owner=OWNER, revision="rev-promoted")
    container = primary["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "podinfo:6.0.0"
    assert primary["metadata"]["annotations"][REVISION_ANNOTATION] == "rev-promoted"
    assert primary["spec"]["template"]["metadata"]["labels"]["app"] == "podinfo-primary"


def test_building_the_primary_does_not_change_its_inputs() -> None:
    source = target()
    before = copy.deepcopy(source)
    primary_from_target(source, owner=OWNER, revision="r")
    assert source == before


def test_spread_and_anti_affinity_selectors_follow_the_primary_pods() -> None:
    selector = {
        "matchLabels": {"app": "podinfo", "tier": "web"},
        "matchExpressions": [{"key": "app", "operator": "In", "values": ["podinfo", "other"]}],
    }
    pod_spec = {
        "containers": [{"name": "podinfo", "image": "podinfo:6.0.0"}],
        "topologySpreadConstraints": [{"maxSkew": 1, "labelSelector": copy.deepcopy(selector)}],
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"topologyKey": "zone", "labelSelector": copy.deepcopy(selector)}
                ],
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 1,
                        "podAffinityTerm": {
                            "topologyKey": "h",
                            "labelSelector": copy.deepcopy(selector),
                        },
                    }
                ],
            }
        },
    }
    source = target()
    source["spec"]["template"]["spec"] = pod_spec
    built = primary_from_target(source, owner=OWNER, revision="r")["spec"]["template"]["spec"]
    anti = built["affinity"]["podAntiAffinity"]
    selectors = [
        built["topologySpreadConstraints"][0]["labelSelector"],
        anti["requiredDuringSchedulingIgnoredDuringExecution"][0]["labelSelector"],
        anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"][
            "labelSelector"
        ],
    ]
    for rewritten in selectors:
        assert rewritten["matchLabels"] == {"app": "podinfo-primary", "tier": "web"}
        assert rewritten["matchExpressions"][0]["values"] == ["podinfo-primary", "other"]


def test_a_target_without_a_template_is_an_error() -> None:
    source = target()
    del source["spec"]["template"]
    with pytest.raises(TargetError, match=r"podinfo has no spec\.template"):
        primary_from_target(source, owner=OWNER, revision="r")


@pytest.mark.parametrize(
    ("target_replicas", "primary_replicas", "expected"),
    [(4, 2, 4), (0, 2, 2), (0, 0, 1), (0, None, 1)],
)
def test_the_canary_scales_up_to_its_own_replicas_else_the_primarys_else_one(
    target_replicas: int, primary_replicas: int | None, expected: int
) -> None:
    primary = None if primary_replicas is None else {"spec": {"replicas": primary_replicas}}
    assert replicas_to_scale_up(target(replicas=target_replicas), primary=primary) == expected
