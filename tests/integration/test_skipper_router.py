"""The Skipper router against the sandbox's API server: the canary Ingress beside the user's,
its weights kept by reconcile and its routes turned off at 0; the user's Ingress never written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import INGRESS
from canary.routers.base import RouteRef
from canary.routers.skipper import PREDICATE, WEIGHTS, SkipperRouter

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "skipper" / "ingress.yaml"


async def test_the_canary_ingress_is_written_beside_the_users(
    api: ApiClient, namespace: str
) -> None:
    users: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    users["metadata"].update(namespace=namespace, annotations={PREDICATE: 'Method("GET")'})
    users = await resources.apply(api, users, field_manager="test-user")
    router, route = SkipperRouter(api, "podinfo"), RouteRef(namespace, "podinfo", None)
    assert await router.get_weights(route) is None
    await router.set_weights(route, primary=80, canary=20)
    await router.reconcile(route)  # keeps the weights
    assert await router.get_weights(route) == (80, 20)
    written = await resources.get(api, INGRESS, "podinfo-canary", namespace=namespace)
    assert written is not None
    annotations = written["metadata"]["annotations"]
    assert json.loads(annotations[WEIGHTS]) == {"podinfo-primary": 80, "podinfo-canary": 20}
    assert annotations[PREDICATE] == 'Weight(100) && Method("GET")'
    paths = written["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in paths] == ["podinfo-primary", "podinfo-canary"]
    await router.set_weights(route, primary=100, canary=0)
    off = await resources.get(api, INGRESS, "podinfo-canary", namespace=namespace)
    assert off is not None
    assert off["metadata"]["annotations"][PREDICATE] == 'False() && Method("GET")'
    after = await resources.get(api, INGRESS, "podinfo", namespace=namespace)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == users["metadata"]["resourceVersion"]
