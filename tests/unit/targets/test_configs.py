"""Config tracking, pure: which configs a template uses, their checksums, the `-primary` copies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canary.core.revision import config_checksum, revision
from canary.kube.resources import CanaryRef
from canary.targets.configs import (
    ConfigRef,
    TrackedConfigs,
    checksum,
    config_refs,
    is_tracked,
    missing_message,
    primary_copy,
    tracked_configs,
    with_copies,
)

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")


def template() -> dict[str, Any]:
    """A pod template using configs in every way a pod can."""
    return {
        "metadata": {"labels": {"app": "podinfo"}},
        "spec": {
            "initContainers": [
                {
                    "name": "init",
                    "image": "busybox",
                    "envFrom": [{"configMapRef": {"name": "init-env"}}],
                }
            ],
            "containers": [
                {
                    "name": "podinfo",
                    "image": "podinfo:6.7.0",
                    "env": [
                        {"name": "PLAIN", "value": "x"},
                        {
                            "name": "LEVEL",
                            "valueFrom": {"configMapKeyRef": {"name": "env", "key": "level"}},
                        },
                        {
                            "name": "TOKEN",
                            "valueFrom": {"secretKeyRef": {"name": "token", "key": "t"}},
                        },
                        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    ],
                    "envFrom": [
                        {"secretRef": {"name": "all-env", "optional": True}},
                        {"configMapRef": {"name": "env"}},
                    ],
                }
            ],
            "volumes": [
                {"name": "settings", "configMap": {"name": "settings", "optional": True}},
                {"name": "certs", "secret": {"secretName": "certs"}},
                {"name": "data", "emptyDir": {}},
                {
                    "name": "bundle",
                    "projected": {
                        "sources": [
                            {"configMap": {"name": "bundle-cm"}},
                            {"secret": {"name": "bundle-secret", "optional": True}},
                            {"downwardAPI": {"items": []}},
                        ]
                    },
                },
            ],
        },
    }


def config_map(name: str, data: dict[str, str], **extra: Any) -> dict[str, Any]:
    metadata = {"name": name, "namespace": "test", **extra.pop("metadata", {})}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data, **extra}


def secret(name: str, data: dict[str, str], **extra: Any) -> dict[str, Any]:
    metadata = {"name": name, "namespace": "test", **extra.pop("metadata", {})}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "data": data, **extra}


def test_every_kind_of_reference_is_found_once_in_key_order() -> None:
    assert config_refs(template()) == (
        ConfigRef("configmap", "bundle-cm"),
        ConfigRef("configmap", "env"),
        ConfigRef("configmap", "init-env"),
        ConfigRef("configmap", "settings", optional=True),
        ConfigRef("secret", "all-env", optional=True),
        ConfigRef("secret", "bundle-secret", optional=True),
        ConfigRef("secret", "certs"),
        ConfigRef("secret", "token"),
    )


def test_a_config_used_both_optionally_and_not_is_required() -> None:
    spec = {
        "containers": [
            {
                "name": "c",
                "envFrom": [
                    {"configMapRef": {"name": "env", "optional": True}},
                    {"configMapRef": {"name": "env"}},
                ],
            }
        ]
    }
    assert config_refs({"spec": spec}) == (ConfigRef("configmap", "env"),)


def test_a_template_without_configs_has_none() -> None:
    plain = {"spec": {"containers": [{"name": "c", "image": "x", "env": [{"name": "A"}]}]}}
    assert config_refs(plain) == ()
    assert config_refs({}) == ()


def test_references_without_a_name_are_ignored() -> None:
    spec = {
        "containers": [{"name": "c", "env": [{"valueFrom": {"configMapKeyRef": {"key": "k"}}}]}],
        "volumes": [{"name": "v", "secret": {}}],
    }
    assert config_refs({"spec": spec}) == ()


def test_the_rewrite_names_the_copies_of_tracked_configs_only() -> None:
    original = template()
    kept = copy.deepcopy(original)
    rewritten = with_copies(original, {"configmap/env", "secret/certs", "configmap/bundle-cm"})
    assert original == kept, "the input is not modified"
    container = rewritten["spec"]["containers"][0]
    assert container["env"][1]["valueFrom"]["configMapKeyRef"] == {
        "name": "env-primary",
        "key": "level",
    }
    assert container["env"][2]["valueFrom"]["secretKeyRef"]["name"] == "token"  # not tracked
    assert container["envFrom"][1]["configMapRef"]["name"] == "env-primary"
    assert container["envFrom"][0]["secretRef"]["name"] == "all-env"
    volumes = rewritten["spec"]["volumes"]
    assert volumes[1]["secret"]["secretName"] == "certs-primary"
    assert volumes[0]["configMap"]["name"] == "settings"
    sources = volumes[3]["projected"]["sources"]
    assert sources[0]["configMap"]["name"] == "bundle-cm-primary"
    assert sources[1]["secret"]["name"] == "bundle-secret"
    assert rewritten["spec"]["initContainers"][0]["envFrom"][0]["configMapRef"]["name"] == (
        "init-env"
    )


def test_a_secret_and_a_config_map_of_the_same_name_are_told_apart() -> None:
    spec = {
        "containers": [
            {
                "name": "c",
                "envFrom": [{"configMapRef": {"name": "app"}}, {"secretRef": {"name": "app"}}],
            }
        ]
    }
    rewritten = with_copies({"spec": spec}, {"secret/app"})
    env_from = rewritten["spec"]["containers"][0]["envFrom"]
    assert env_from == [{"configMapRef": {"name": "app"}}, {"secretRef": {"name": "app-primary"}}]


def test_the_checksum_of_data_only_is_the_core_config_checksum() -> None:
    assert checksum(config_map("a", {"level": "debug"})) == config_checksum({"level": "debug"})
    assert checksum(config_map("a", {"level": "debug"})) == "15d67cafeba2dc9c"  # pinned


def test_the_checksum_is_independent_of_key_order_and_metadata() -> None:
    one = config_map("a", {"a": "1", "b": "2"})
    two = config_map("b", {"b": "2", "a": "1"}, metadata={"labels": {"x": "y"}})
    assert checksum(one) == checksum(two)


def test_the_checksum_covers_binary_data_apart_from_data() -> None:
    text = config_map("a", {"k": "djE="})
    binary = {**config_map("a", {}), "binaryData": {"k": "djE="}}
    both = {**config_map("a", {"k": "djE="}), "binaryData": {"k": "djE="}}
    assert len({checksum(text), checksum(binary), checksum(both)}) == 3
    changed = {**binary, "binaryData": {"k": "djI="}}
    assert checksum(changed) != checksum(binary)


def test_opting_out_by_annotation() -> None:
    assert is_tracked(config_map("a", {}))
    for key in ("canary.dev/config-tracking", "flagger.app/config-tracking"):
        for value in ("disabled", "Disabled", "disable"):
            annotated = config_map("a", {}, metadata={"annotations": {key: value}})
            assert not is_tracked(annotated), (key, value)
        enabled = config_map("a", {}, metadata={"annotations": {key: "enabled"}})
        assert is_tracked(enabled)


@pytest.mark.parametrize(
    "kind",
    [None, "Opaque", "kubernetes.io/tls", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth"],
)
def test_secrets_of_application_types_are_tracked(kind: str | None) -> None:
    assert is_tracked(secret("s", {}) if kind is None else secret("s", {}, type=kind))


@pytest.mark.parametrize(
    "kind", ["kubernetes.io/service-account-token", "kubernetes.io/dockerconfigjson"]
)
def test_secrets_for_the_cluster_are_not_tracked(kind: str) -> None:
    assert not is_tracked(secret("s", {}, type=kind))


def test_tracked_skips_opted_out_and_missing_optional_and_reports_missing_required() -> None:
    refs = config_refs(template())
    opted_out = {"annotations": {"canary.dev/config-tracking": "disabled"}}
    found = {
        "configmap/bundle-cm": config_map("bundle-cm", {"a": "1"}),
        "configmap/env": config_map("env", {"level": "info"}),
        "configmap/init-env": config_map("init-env", {}, metadata=opted_out),
        "secret/certs": secret("certs", {"tls.crt": "eA=="}, type="kubernetes.io/tls"),
        "secret/token": secret("token", {"t": "eA=="}),
        # settings, all-env and bundle-secret are optional and absent
    }
    result = tracked_configs(refs, found)
    assert sorted(result.objects) == [
        "configmap/bundle-cm",
        "configmap/env",
        "secret/certs",
        "secret/token",
    ]
    assert result.missing == ()
    assert result.checksums == {key: checksum(obj) for key, obj in sorted(result.objects.items())}

    without_token = tracked_configs(refs, {k: v for k, v in found.items() if k != "secret/token"})
    assert without_token.missing == (ConfigRef("secret", "token"),)
    assert "secret/token" not in without_token.objects


def test_objects_are_known_by_the_kind_of_their_reference() -> None:
    refs = config_refs(template())
    listed = {"metadata": {"name": "token"}, "type": "kubernetes.io/service-account-token"}
    assert (
        tracked_configs(refs, {"secret/token": listed}).objects == {}
    )  # a Secret type never tracked
    result = tracked_configs(refs, {"configmap/env": {"metadata": {"name": "env"}, "data": {}}})
    assert result.objects["configmap/env"]["kind"] == "ConfigMap"


def test_a_template_without_tracked_configs_keeps_its_revision() -> None:
    plain = {"metadata": {"labels": {"app": "podinfo"}}, "spec": {"containers": [{"name": "c"}]}}
    assert TrackedConfigs().revision(plain) == revision(plain)
    everything_opted_out = tracked_configs(
        config_refs(template()),
        {
            ref.key: config_map(
                ref.name, {}, metadata={"annotations": {"canary.dev/config-tracking": "disabled"}}
            )
            for ref in config_refs(template())
        },
    )
    assert everything_opted_out.checksums == {}
    assert everything_opted_out.revision(template()) == revision(template())


def test_an_edit_of_a_tracked_config_is_a_new_revision() -> None:
    refs = config_refs(template())
    before = tracked_configs(refs, {"configmap/env": config_map("env", {"level": "info"})})
    after = tracked_configs(refs, {"configmap/env": config_map("env", {"level": "debug"})})
    assert before.revision(template()) != after.revision(template())
    assert before.revision(template()) != revision(template())
    same = tracked_configs(refs, {"configmap/env": config_map("env", {"level": "info"})})
    assert same.revision(template()) == before.revision(template())


def test_the_primary_target_uses_the_copies_and_leaves_the_target_alone() -> None:
    target = {"metadata": {"name": "podinfo"}, "spec": {"replicas": 2, "template": template()}}
    kept = copy.deepcopy(target)
    configs = tracked_configs(config_refs(template()), {"configmap/env": config_map("env", {})})
    primary = configs.primary_target(target)
    assert target == kept
    assert primary["spec"]["replicas"] == 2
    container = primary["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"][1]["configMapRef"]["name"] == "env-primary"
    assert primary["spec"]["template"] == configs.primary_template(template())


def test_the_copy_of_a_config_map() -> None:
    original = {
        **config_map(
            "env",
            {"level": "info"},
            metadata={
                "labels": {"app": "podinfo", "kustomize.toolkit.fluxcd.io/name": "apps"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                "resourceVersion": "42",
                "uid": "cm-uid",
                "ownerReferences": [{"kind": "HelmRelease", "uid": "h"}],
            },
        ),
        "binaryData": {"blob": "AAE="},
        "immutable": True,
    }
    assert primary_copy(original, owner=OWNER, existing=None) == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "env-primary",
            "namespace": "test",
            "labels": {"app": "podinfo"},
            "ownerReferences": [OWNER.owner_reference()],
        },
        "data": {"level": "info"},
        "binaryData": {"blob": "AAE="},
    }


def test_the_copy_of_a_secret_keeps_its_type() -> None:
    original = secret("certs", {"tls.crt": "eA==", "tls.key": "eQ=="}, type="kubernetes.io/tls")
    manifest = primary_copy(original, owner=OWNER, existing=None)
    assert manifest["kind"] == "Secret"
    assert manifest["type"] == "kubernetes.io/tls"
    assert manifest["data"] == {"tls.crt": "eA==", "tls.key": "eQ=="}
    assert manifest["metadata"]["name"] == "certs-primary"
    untyped = primary_copy(secret("s", {"a": "eA=="}), owner=OWNER, existing=None)
    assert untyped["type"] == "Opaque"


def test_a_copy_shared_with_other_canaries_keeps_their_references_as_non_controllers() -> None:
    other = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Canary",
        "name": "other",
        "uid": "uid-2",
        "controller": True,
        "blockOwnerDeletion": True,
    }
    existing = {
        "metadata": {"ownerReferences": [OWNER.owner_reference(), other, {"kind": "X", "uid": "x"}]}
    }
    manifest = primary_copy(config_map("env", {}), owner=OWNER, existing=existing)
    assert manifest["metadata"]["ownerReferences"] == [
        OWNER.owner_reference(),
        {**other, "controller": False},
    ]


def test_an_empty_config_map_is_copied_without_data() -> None:
    manifest = primary_copy(config_map("env", {}), owner=OWNER, existing=None)
    assert "data" not in manifest
    assert "binaryData" not in manifest


def test_the_missing_message_names_every_missing_object() -> None:
    message = missing_message(
        [ConfigRef("configmap", "env"), ConfigRef("secret", "token")],
        namespace="test",
        target="podinfo",
    )
    assert "ConfigMap test/env" in message
    assert "Secret test/token" in message
    assert "deployment test/podinfo" in message
