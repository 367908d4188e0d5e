"""Which Canaries a ConfigMap or Secret event wakes: those whose Deployments use the object."""

from __future__ import annotations

from typing import Any

from canary.controller.cache import ObjectCache
from canary.controller.configwatch import ConfigUsers
from canary.controller.scheduler import Key

WEB: Key = ("shop", "web")
API: Key = ("shop", "api")
ELSEWHERE: Key = ("other", "web")


def deployment(namespace: str, name: str, *, version: str, env: str) -> dict[str, Any]:
    container = {"name": "c", "envFrom": [{"configMapRef": {"name": env}}]}
    return {
        "metadata": {"namespace": namespace, "name": name, "resourceVersion": version},
        "spec": {
            "template": {
                "spec": {
                    "containers": [container],
                    "volumes": [{"name": "s", "secret": {"secretName": "token"}}],
                }
            }
        },
    }


def config(namespace: str, name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": namespace, "name": name}}


def setup() -> tuple[ObjectCache, ConfigUsers, dict[tuple[str, str], set[Key]]]:
    cache = ObjectCache()
    cache.put("deployments", deployment("shop", "web", version="1", env="web-env"))
    cache.put("deployments", deployment("shop", "api", version="1", env="api-env"))
    cache.put("deployments", deployment("other", "web", version="1", env="web-env"))
    targets = {
        ("shop", "web"): {WEB},
        ("shop", "web-primary"): {WEB},  # not in the cache: uses nothing known
        ("shop", "api"): {API},
        ("other", "web"): {ELSEWHERE},
    }
    return cache, ConfigUsers(cache), targets


def test_an_event_wakes_the_canaries_whose_target_uses_the_object_in_its_namespace() -> None:
    _, users, targets = setup()
    assert users.canaries("configmaps", [config("shop", "web-env")], targets) == {WEB}
    assert users.canaries("configmaps", [config("other", "web-env")], targets) == {ELSEWHERE}
    assert users.canaries("secrets", [config("shop", "token")], targets) == {WEB, API}


def test_kinds_are_told_apart() -> None:
    _, users, targets = setup()
    assert users.canaries("secrets", [config("shop", "web-env")], targets) == set()
    assert users.canaries("configmaps", [config("shop", "token")], targets) == set()


def test_an_unused_object_wakes_nothing() -> None:
    _, users, targets = setup()
    assert users.canaries("configmaps", [config("shop", "unrelated")], targets) == set()
    assert users.canaries("configmaps", [], targets) == set()


def test_a_relist_wakes_every_canary_using_any_listed_object() -> None:
    _, users, targets = setup()
    listed = [config("shop", "web-env"), config("shop", "api-env"), config("shop", "x")]
    assert users.canaries("configmaps", listed, targets) == {WEB, API}


def test_a_changed_deployment_is_read_again() -> None:
    cache, users, targets = setup()
    assert users.canaries("configmaps", [config("shop", "new-env")], targets) == set()
    cache.put("deployments", deployment("shop", "web", version="2", env="new-env"))
    assert users.canaries("configmaps", [config("shop", "new-env")], targets) == {WEB}
    assert users.canaries("configmaps", [config("shop", "web-env")], targets) == set()


def test_a_deployment_no_canary_names_any_more_is_forgotten() -> None:
    _, users, targets = setup()
    users.canaries("configmaps", [config("shop", "web-env")], targets)
    targets[("shop", "web")] = set()  # its Canary was deleted
    assert users.canaries("configmaps", [config("shop", "web-env")], targets) == set()
