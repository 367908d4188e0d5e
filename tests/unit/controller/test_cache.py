"""The watch caches by kind and namespace: reads, lists of one namespace, relists, deletions."""

from __future__ import annotations

from typing import Any

from canary.controller.cache import ObjectCache


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
