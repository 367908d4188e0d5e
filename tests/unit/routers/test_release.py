"""Handing traffic back to the target: the apex Service kept, the route object released."""

from __future__ import annotations

from typing import Any

from canary.kube.resources import CanaryRef
from canary.routers.base import RouteRef
from canary.routers.release import (
    apex_release_patch,
    attaches_to_gateway,
    http_route_release_patch,
)

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)
OTHER_OWNER = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "uid-2"}


def apex(selector: dict[str, str], *owners: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "podinfo", "namespace": "test", "resourceVersion": "9"}
    if owners:
        metadata["ownerReferences"] = list(owners)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"selector": selector},
    }


def test_an_owned_apex_selects_the_target_and_outlives_the_canary() -> None:
    service = apex({"app": "podinfo-primary"}, OWNER.owner_reference(), OTHER_OWNER)
    patch = apex_release_patch(service, selector={"app": "podinfo"}, owner_uid="uid-1")
    assert patch == {
        "metadata": {"resourceVersion": "9", "ownerReferences": [OTHER_OWNER]},
        "spec": {"selector": {"app": "podinfo"}},
    }


def test_the_last_owner_reference_goes_as_null_and_a_user_service_only_switches() -> None:
    owned = apex({"app": "podinfo-primary"}, OWNER.owner_reference())
    patch = apex_release_patch(owned, selector={"app": "podinfo"}, owner_uid="uid-1")
    assert patch is not None
    assert patch["metadata"]["ownerReferences"] is None
    users = apex({"app": "podinfo-primary", "team": "a"})
    assert apex_release_patch(users, selector={"app": "podinfo"}, owner_uid="uid-1") == {
        "metadata": {"resourceVersion": "9"},
        "spec": {"selector": {"app": "podinfo"}},
    }


def test_a_released_apex_needs_nothing() -> None:
    service = apex({"app": "podinfo"})
    assert apex_release_patch(service, selector={"app": "podinfo"}, owner_uid="uid-1") is None


def _backend(name: str, weight: int) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": name, "port": 9898, "weight": weight}


def http_route(parents: list[dict[str, Any]]) -> dict[str, Any]:
    mirror = {
        "type": "RequestMirror",
        "requestMirror": {"backendRef": {"kind": "Service", "name": "podinfo-canary"}},
    }
    headers = {"type": "RequestHeaderModifier", "requestHeaderModifier": {"set": []}}
    return {
        "metadata": {
            "name": "podinfo",
            "resourceVersion": "5",
            "ownerReferences": [OWNER.owner_reference()],
        },
        "spec": {
            "parentRefs": parents,
            "hostnames": ["app.example.com"],
            "rules": [
                {
                    "matches": [{"headers": [{"name": "x-canary", "value": "insider"}]}],
                    "filters": [headers, mirror],
                    "backendRefs": [
                        _backend("podinfo-primary", 70),
                        _backend("podinfo-canary", 30),
                    ],
                },
                {"backendRefs": [_backend("podinfo-primary", 100)]},
            ],
        },
    }


def test_mesh_routes_are_told_from_gateway_routes() -> None:
    assert attaches_to_gateway(http_route([{"name": "public", "namespace": "gateways"}]))
    assert not attaches_to_gateway(
        http_route([{"group": "", "kind": "Service", "name": "podinfo", "port": 9898}])
    )


def test_a_gateway_route_sends_everything_to_the_apex_and_outlives_the_canary() -> None:
    route = http_route([{"name": "public"}])
    patch = http_route_release_patch(route, route=ROUTE, owner_uid="uid-1")
    assert patch is not None
    assert patch["metadata"] == {"resourceVersion": "5", "ownerReferences": None}
    to_apex = [{"group": "", "kind": "Service", "name": "podinfo", "port": 9898}]
    first, second = patch["spec"]["rules"]
    assert first["backendRefs"] == to_apex
    assert first["matches"] == route["spec"]["rules"][0]["matches"]
    assert [f["type"] for f in first["filters"]] == ["RequestHeaderModifier"]
    assert second == {"backendRefs": to_apex}


def test_a_released_gateway_route_needs_nothing() -> None:
    route = http_route([{"name": "public"}])
    patch = http_route_release_patch(route, route=ROUTE, owner_uid="uid-1")
    assert patch is not None
    released = {"metadata": {"resourceVersion": "6"}, "spec": {**route["spec"], **patch["spec"]}}
    assert http_route_release_patch(released, route=ROUTE, owner_uid="uid-1") is None
