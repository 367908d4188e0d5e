"""The NGINX router against the sandbox's API server: the canary Ingress it writes, adopts or
refuses, and the user's Ingress it never writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import INGRESS, CanaryRef
from canary.routers.base import RouteError, RouteRef
from canary.routers.nginx import (
    BY_HEADER,
    BY_HEADER_VALUE,
    CANARY,
    WEIGHT,
    NginxRouter,
    NginxSettings,
)
from tests.integration.crds import install_crds

pytestmark = pytest.mark.integration

USER = "test-user"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nginx" / "ingress.yaml"
CANARY_EXAMPLE = EXAMPLE.with_name("canary.yaml")


def _route(namespace: str, owner: CanaryRef | None = None) -> RouteRef:
    return RouteRef(namespace=namespace, apex="podinfo", owner=owner)


async def _owner(api: ApiClient, namespace: str, name: str) -> CanaryRef:
    """A Canary that exists (the garbage collector deletes what a missing owner owns)."""
    await install_crds(api)
    manifest: dict[str, Any] = yaml.safe_load(CANARY_EXAMPLE.read_text())
    manifest["metadata"].update(name=name, namespace=namespace)
    applied = await resources.apply(api, manifest, field_manager=USER)
    return CanaryRef(name, namespace, applied["metadata"]["uid"])


async def _users_ingress(api: ApiClient, namespace: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["namespace"] = namespace
    manifest["metadata"]["annotations"] = {"team": "web"}
    return await resources.apply(api, manifest, field_manager=USER)


async def _canary_ingress(api: ApiClient, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, INGRESS, "podinfo-canary", namespace=namespace)
    assert found is not None
    return found


def _router(api: ApiClient, matches: dict[str, str] | None = None) -> NginxRouter:
    return NginxRouter(api, NginxSettings(ingress="podinfo", matches=matches or {}))


async def test_the_canary_ingress_is_written_beside_the_users_and_keeps_its_weights(
    api: ApiClient, namespace: str
) -> None:
    users = await _users_ingress(api, namespace)
    router, route = _router(api), _route(namespace)
    assert await router.get_weights(route) is None
    await router.reconcile(route)
    assert await router.get_weights(route) == (100, 0)
    await router.set_weights(route, primary=70, canary=30)
    await router.reconcile(route)  # keeps the weights
    assert await router.get_weights(route) == (70, 30)
    written = await _canary_ingress(api, namespace)
    annotations = written["metadata"]["annotations"]
    assert (annotations[CANARY], annotations[WEIGHT], annotations["team"]) == ("true", "30", "web")
    paths = written["spec"]["rules"][0]["http"]["paths"]
    assert paths[0]["backend"]["service"] == {"name": "podinfo-canary", "port": {"number": 80}}
    await router.set_weights(route, primary=100, canary=0)
    annotations = (await _canary_ingress(api, namespace))["metadata"]["annotations"]
    assert annotations[CANARY] == "false"
    assert WEIGHT not in annotations
    after = await resources.get(api, INGRESS, "podinfo", namespace=namespace)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == users["metadata"]["resourceVersion"]


async def test_a_canary_ingress_the_user_made_is_adopted_without_its_canary_annotations(
    api: ApiClient, namespace: str
) -> None:
    await _users_ingress(api, namespace)
    made: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    made["metadata"].update(
        name="podinfo-canary",
        namespace=namespace,
        annotations={CANARY: "true", BY_HEADER: "x-old", BY_HEADER_VALUE: "1", "note": "mine"},
    )
    await resources.apply(api, made, field_manager=USER)
    owner = await _owner(api, namespace, "podinfo")
    router, route = _router(api), _route(namespace, owner)
    await router.set_weights(route, primary=90, canary=10)
    adopted = await _canary_ingress(api, namespace)
    annotations = adopted["metadata"]["annotations"]
    assert (annotations[CANARY], annotations[WEIGHT], annotations["note"]) == ("true", "10", "mine")
    assert BY_HEADER not in annotations
    assert BY_HEADER_VALUE not in annotations
    assert [ref["uid"] for ref in adopted["metadata"]["ownerReferences"]] == [owner.uid]
    assert await router.get_weights(route) == (90, 10)


async def test_a_canary_ingress_another_canary_controls_is_refused(
    api: ApiClient, namespace: str
) -> None:
    await _users_ingress(api, namespace)
    other = await _owner(api, namespace, "other")
    await _router(api).reconcile(_route(namespace, other))
    ours = await _owner(api, namespace, "podinfo")
    with pytest.raises(RouteError, match="controlled by another Canary"):
        await _router(api).set_weights(_route(namespace, ours), primary=90, canary=10)


async def test_a_missing_ingress_is_named(api: ApiClient, namespace: str) -> None:
    with pytest.raises(RouteError, match=rf"Ingress {namespace}/podinfo \(spec.ingressRef\)"):
        await _router(api).reconcile(_route(namespace))
    assert await resources.get(api, INGRESS, "podinfo-canary", namespace=namespace) is None
