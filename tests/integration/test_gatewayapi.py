"""Gateway API in the sandbox: the CRDs `up` installs, the HTTPRoute router, the mesh simulator.

The router's HTTPRoutes are applied to the real API server (v1 and v1beta1) and read back; the
mesh simulator turns an HTTPRoute's 50/50 split into Linkerd metrics that the sandbox's
Prometheus answers, as it does for TrafficSplits (tests/integration/test_meshsim.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CanaryRef
from canary.routers.base import RouteError, RouteRef
from canary.routers.gatewayapi import (
    KIND,
    GatewayApiRouter,
    GatewaySettings,
    GatewayVersion,
    gateway_parent_ref,
)
from canary.sandbox.crd_components import GATEWAY_API_VERSION
from canary.sandbox.state import SandboxState
from tests.integration.test_meshsim import (
    RATE,
    Prometheus,
    _near,
    _podinfo,
    _request_rate,
    _success_rate,
)
from tests.integration.waiting import eventually

USER = "test-user"
SETTINGS = GatewaySettings(
    port=9898, parent_refs=(gateway_parent_ref("public"),), hostnames=("podinfo.example",)
)


def _route_kind(version: GatewayVersion) -> resources.ResourceKind:
    return resources.resource_kind(version.api_version, KIND)


@pytest.fixture
def prometheus(sandbox: SandboxState) -> Prometheus:
    return Prometheus(sandbox.prometheus_url)


@pytest.mark.parametrize(
    "plural", ["httproutes", "gateways", "gatewayclasses", "referencegrants", "grpcroutes"]
)
async def test_up_installs_the_pinned_standard_crds(api: ApiClient, plural: str) -> None:
    name = f"{plural}.gateway.networking.k8s.io"
    crd = await resources.get(api, resources.CUSTOM_RESOURCE_DEFINITION, name, namespace=None)
    assert crd is not None, name
    annotations = crd["metadata"]["annotations"]
    assert annotations["gateway.networking.k8s.io/bundle-version"] == GATEWAY_API_VERSION
    assert annotations["gateway.networking.k8s.io/channel"] == "standard"
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True"


async def test_httproute_is_served_as_v1_and_v1beta1(api: ApiClient) -> None:
    crd = await resources.get(
        api,
        resources.CUSTOM_RESOURCE_DEFINITION,
        "httproutes.gateway.networking.k8s.io",
        namespace=None,
    )
    assert crd is not None
    served = {v["name"] for v in crd["spec"]["versions"] if v["served"]}
    assert {"v1", "v1beta1"} <= served


@pytest.mark.parametrize("version", list(GatewayVersion))
async def test_http_route_is_created_set_and_read_back(
    api: ApiClient, namespace: str, owner: CanaryRef, version: GatewayVersion
) -> None:
    router = GatewayApiRouter(api, version, SETTINGS)
    route = RouteRef(namespace=namespace, apex="podinfo", owner=owner)
    assert await router.get_weights(route) is None

    await router.reconcile(route)
    assert await router.get_weights(route) == (100, 0)
    stored = await resources.get(api, _route_kind(version), "podinfo", namespace=namespace)
    assert stored is not None
    assert stored["apiVersion"] == version.api_version
    assert stored["spec"]["hostnames"] == ["podinfo.example"]
    assert [p["name"] for p in stored["spec"]["parentRefs"]] == ["public"]
    [rule] = stored["spec"]["rules"]
    assert [(r["name"], r["port"], r["weight"]) for r in rule["backendRefs"]] == [
        ("podinfo-primary", 9898, 100),
        ("podinfo-canary", 9898, 0),
    ]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert stored["metadata"]["annotations"]["kustomize.toolkit.fluxcd.io/reconcile"] == "disabled"
    [reference] = stored["metadata"]["ownerReferences"]
    assert (reference["kind"], reference["uid"]) == ("ConfigMap", owner.uid)

    await router.set_weights(route, primary=70, canary=30)
    assert await router.get_weights(route) == (70, 30)
    before = await resources.get(api, _route_kind(version), "podinfo", namespace=namespace)
    await router.set_weights(route, primary=70, canary=30)
    after = await resources.get(api, _route_kind(version), "podinfo", namespace=namespace)
    assert before is not None
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["metadata"]["generation"] == before["metadata"]["generation"]

    await router.reconcile(route)  # an existing route keeps its weights
    assert await router.get_weights(route) == (70, 30)

    # Both versions are views of one object.
    other = next(v for v in GatewayVersion if v is not version)
    assert await GatewayApiRouter(api, other, SETTINGS).get_weights(route) == (70, 30)


async def test_mesh_routing_attaches_to_the_apex_service(api: ApiClient, namespace: str) -> None:
    router = GatewayApiRouter(api, GatewayVersion.V1, GatewaySettings(port=80, timeout="15s"))
    route = RouteRef(namespace=namespace, apex="podinfo", owner=None)
    await router.reconcile(route)
    stored = await resources.get(
        api, _route_kind(GatewayVersion.V1), "podinfo", namespace=namespace
    )
    assert stored is not None
    assert stored["spec"]["parentRefs"] == [
        {"group": "", "kind": "Service", "name": "podinfo", "port": 80}
    ]
    assert stored["spec"]["rules"][0]["timeouts"] == {"request": "15s"}
    assert "ownerReferences" not in stored["metadata"]


async def test_reconcile_repairs_a_route_that_lost_a_backend_to_all_primary(
    api: ApiClient, namespace: str
) -> None:
    router = GatewayApiRouter(api, GatewayVersion.V1, SETTINGS)
    route = RouteRef(namespace=namespace, apex="podinfo", owner=None)
    await router.set_weights(route, primary=40, canary=60)
    await resources.merge_patch(
        api,
        _route_kind(GatewayVersion.V1),
        "podinfo",
        namespace=namespace,
        patch={"spec": {"rules": [{"backendRefs": [{"name": "podinfo-primary", "port": 9898}]}]}},
        field_manager=USER,
    )
    with pytest.raises(RouteError, match="no rule with exactly two backendRefs"):
        await router.get_weights(route)
    await router.reconcile(route)
    assert await router.get_weights(route) == (100, 0)


async def test_the_simulator_follows_a_50_50_http_route(
    api: ApiClient, namespace: str, prometheus: Prometheus
) -> None:
    await _podinfo(api, namespace)
    route = RouteRef(namespace=namespace, apex="podinfo", owner=None)
    await GatewayApiRouter(api, GatewayVersion.V1, GatewaySettings(port=9898)).set_weights(
        route, primary=50, canary=50
    )
    rate: dict[str, Any] = {"metadata": {"annotations": {"meshsim.canary.dev/rate": str(RATE)}}}
    await resources.merge_patch(
        api,
        _route_kind(GatewayVersion.V1),
        "podinfo",
        namespace=namespace,
        patch=rate,
        field_manager=USER,
    )

    for target in ("podinfo", "podinfo-primary"):
        await eventually(
            prometheus.probe(_request_rate(namespace, target, "5s")),
            until=_near(RATE / 2, 3.0),
            within=30,
            what=f"{target} at about {RATE / 2:g} requests per second",
        )
    # The canary fails half its requests, the primary none.
    await eventually(
        prometheus.probe(_success_rate(namespace, "podinfo")),
        until=_near(50.0, 5.0),
        within=30,
        what="canary success rate about 50 %",
    )
    assert await prometheus.value(_success_rate(namespace, "podinfo-primary")) == 100.0
