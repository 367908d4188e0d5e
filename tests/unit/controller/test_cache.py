"""The watch caches by kind and namespace: reads, lists of one namespace, relists, deletions."""

from __future__ import annotations

from typing import Any

from canary.controller.cache import ObjectCache
from canary.targets.autoscaler import applies_replicas


def _obj(namespace: str, name: str, version: str = "1") -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name, "resourceVersion": version}}


def test_items_are_those_of_one_kind_and_namespace() -> None:
    cache = ObjectCache()
    cache.put("canaries", _obj("a", "one"))
    cache.put("canaries", _obj("a", "two"))
    cache.put("canaries", _obj("b", "one"))
    cache.put("deployments", _obj("a", "one"))

    assert sorted(o["metadata"]["name"] for o in cache.items("canaries", "a")) == ["one", "two"]
    assert cache.get("canaries", "b", "one") == _obj("b", "one")
    assert cache.get("canaries", "c", "one") is None
    assert cache.items("services", "a") == []


def test_a_newer_version_replaces_the_older_and_a_deletion_removes_it() -> None:
    cache = ObjectCache()
    cache.put("canaries", _obj("a", "one"))
    cache.put("canaries", _obj("a", "one", version="2"))
    assert cache.items("canaries", "a") == [_obj("a", "one", version="2")]
    cache.delete("canaries", _obj("a", "one"))
    cache.delete("canaries", _obj("z", "never"))
    assert cache.items("canaries", "a") == []


def test_a_relist_replaces_its_scope_only() -> None:
    cache = ObjectCache()
    cache.put("canaries", _obj("a", "gone"))
    cache.put("canaries", _obj("b", "kept"))
    cache.replace("canaries", "a", (_obj("a", "new"),))
    assert [o["metadata"]["name"] for o in cache.items("canaries", "a")] == ["new"]
    assert [o["metadata"]["name"] for o in cache.items("canaries", "b")] == ["kept"]
    assert cache.knows("canaries", "a")
    assert not cache.knows("canaries", "b")
    cache.replace("canaries", None, (_obj("c", "only"),))
    assert cache.items("canaries", "b") == []
    assert cache.knows("canaries", "b")


def _managed(*managers: str, replicas: bool = False) -> list[dict[str, Any]]:
    spec: dict[str, Any] = {"f:template": {}, **({"f:replicas": {}} if replicas else {})}
    return [{"manager": m, "operation": "Apply", "fieldsV1": {"f:spec": spec}} for m in managers]


def test_deployments_keep_only_who_of_this_controller_owns_their_replicas() -> None:
    cache = ObjectCache()
    deployment = _obj("a", "app")
    deployment["metadata"]["managedFields"] = [
        *_managed("kubectl", "kube-controller-manager", replicas=True),
        *_managed("canary-controller"),
        *_managed("canary-controller-replicas", replicas=True),
    ]
    cache.put("deployments", deployment)

    kept = cache.get("deployments", "a", "app")
    assert kept is not None
    assert kept["metadata"]["managedFields"] == [
        {
            "manager": "canary-controller-replicas",
            "operation": "Apply",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        }
    ]
    assert applies_replicas(kept, manager="canary-controller-replicas")
    assert not applies_replicas(kept, manager="canary-controller")
    assert len(deployment["metadata"]["managedFields"]) == 4, "the event's object is untouched"

    service = _obj("a", "app")
    service["metadata"]["managedFields"] = _managed("canary-controller")
    cache.put("services", service)
    assert cache.get("services", "a", "app") == _obj("a", "app"), "nothing left to keep"


def test_canaries_keep_no_managed_fields() -> None:
    cache = ObjectCache()
    canary = _obj("a", "app")
    canary["metadata"]["managedFields"] = _managed("kubectl", "canary-controller")
    cache.put("canaries", canary)
    assert cache.get("canaries", "a", "app") == _obj("a", "app")
