"""Revision hashes: pinned, canonical, blind to what the controller and clients add."""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.core.revision import config_checksum, is_controller_key, revision


def template() -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {"app": "podinfo"},
            "annotations": {"prometheus.io/scrape": "true"},
        },
        "spec": {
            "containers": [
                {
                    "name": "podinfo",
                    "image": "ghcr.io/stefanprodan/podinfo:6.5.0",
                    "ports": [{"name": "http", "containerPort": 9898}],
                    "env": [{"name": "LEVEL", "value": "info"}],
                }
            ],
        },
    }


# Pinned: a change here means every canary in every cluster starts a run after an upgrade.
PINNED = "0e1d1b5acd0c6b09"
PINNED_WITH_CONFIGS = "e69deee047e31518"


def test_hash_of_a_fixed_template_is_pinned() -> None:
    assert revision(template()) == PINNED


def test_hash_is_sha256_of_the_documented_canonical_json() -> None:
    canonical = (
        '{"template":{"metadata":{"annotations":{"prometheus.io/scrape":"true"},'
        '"labels":{"app":"podinfo"}},"spec":{"containers":[{"env":[{"name":"LEVEL",'
        '"value":"info"}],"image":"ghcr.io/stefanprodan/podinfo:6.5.0","name":"podinfo",'
        '"ports":[{"containerPort":9898,"name":"http"}]}]}}}'
    )
    assert hashlib.sha256(canonical.encode()).hexdigest()[:16] == PINNED


def test_hash_with_tracked_configs_is_pinned() -> None:
    configs = {"configmap/settings": config_checksum({"level": "debug"})}
    assert revision(template(), configs) == PINNED_WITH_CONFIGS


def test_config_checksum_is_pinned() -> None:
    assert config_checksum({"level": "debug"}) == "15d67cafeba2dc9c"


def test_is_short_hex() -> None:
    value = revision(template())
    assert len(value) == 16
    int(value, 16)


def test_no_configs_and_empty_configs_hash_alike() -> None:
    assert revision(template(), {}) == revision(template(), None) == revision(template())


DELETE = object()


def changed(path: str, value: Any) -> dict[str, Any]:
    """The template with `path` ("/"-separated, a key with "/" in brackets) set to `value`,
    or removed when `value` is DELETE."""
    result = copy.deepcopy(template())
    *parents, leaf = [part.strip("[]") for part in re.findall(r"\[[^]]*\]|[^/\[\]]+", path)]
    node: Any = result
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is DELETE:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return result


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(changed("metadata/creationTimestamp", None), id="null creationTimestamp"),
        pytest.param(
            changed("metadata/creationTimestamp", "2030-01-01T00:00:00Z"), id="a creationTimestamp"
        ),
        pytest.param(
            changed("metadata/annotations/[canary.dev/revision]", "x"), id="controller annotation"
        ),
        pytest.param(
            changed("metadata/labels/[canary.dev/role]", "primary"), id="controller label"
        ),
        pytest.param(changed("spec/volumes", []), id="empty list"),
        pytest.param(changed("spec/securityContext", {}), id="empty map"),
        pytest.param(changed("spec/containers/0/command", None), id="null field"),
        pytest.param(changed("spec/containers/0/resources", {"limits": {}}), id="nested empty"),
    ],
)
def test_what_must_not_make_a_new_revision(variant: dict[str, Any]) -> None:
    assert revision(variant) == PINNED


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(
            changed("spec/containers/0/image", "ghcr.io/stefanprodan/podinfo:6.5.1"), id="image"
        ),
        pytest.param(
            changed("metadata/annotations/[kubectl.kubernetes.io/restartedAt]", "now"),
            id="kubectl rollout restart",
        ),
        pytest.param(changed("metadata/labels/version", "2"), id="user label"),
        pytest.param(changed("spec/containers/0/env", DELETE), id="env removed"),
        pytest.param(
            changed("spec/containers/0/env", [{"name": "LEVEL", "value": ""}]),
            id="empty string value",
        ),
    ],
)
def test_what_makes_a_new_revision(variant: dict[str, Any]) -> None:
    assert revision(variant) != PINNED


def test_config_change_makes_a_new_revision() -> None:
    before = revision(template(), {"configmap/settings": config_checksum({"level": "info"})})
    after = revision(template(), {"configmap/settings": config_checksum({"level": "debug"})})
    assert before != after


def test_controller_keys() -> None:
    assert is_controller_key("canary.dev/revision")
    assert not is_controller_key("flagger.app/config-tracking")


json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
json_values = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6))
def test_key_order_does_not_matter(spec: dict[str, Any]) -> None:
    reordered = dict(reversed(list(spec.items())))
    assert revision({"spec": spec}) == revision({"spec": reordered})


@given(
    st.dictionaries(
        st.text(max_size=8).filter(lambda k: not is_controller_key(k)),
        st.text(max_size=8),
        max_size=4,
    ),
    st.dictionaries(
        st.text(max_size=8).map(lambda k: f"canary.dev/{k}"), st.text(max_size=8), max_size=4
    ),
)
def test_controller_annotations_never_count(user: dict[str, str], ours: dict[str, str]) -> None:
    plain = {"metadata": {"annotations": user}, "spec": {"x": 1}}
    marked = {"metadata": {"annotations": user | ours}, "spec": {"x": 1}}
    assert revision(plain) == revision(marked)
