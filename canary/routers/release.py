"""Hand a Canary's traffic back to its target before the Canary is deleted (`revertOnDeletion`).

Once the Canary is gone, garbage collection removes what it owns: the primary Deployment, the
`-primary` and `-canary` Services and the route object. Clients must keep being served, so first:

* the apex Service (the name clients use) selects the target's pods and loses the Canary's owner
  reference, so it survives the Canary. (Flagger lets garbage collection delete an apex Service
  it created, and clients lose the name; only a Service the user made survives there.)
* the route object stops sending to the primary. A mesh route (a TrafficSplit, or an HTTPRoute
  attached to the apex Service itself) is deleted: without it the mesh sends the apex's traffic
  to the apex's own endpoints, now the target's pods. An HTTPRoute attached to Gateways is kept,
  without the owner reference, and sends everything to the apex Service: deleting it would cut
  off the Gateway's traffic.

Builders are pure; `release_apex` and `release_route` send what they build. An object another
Canary controls is never released: it serves that Canary. This module must not decide when to
release, nor touch Deployments.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import SERVICE, ResourceKind
from canary.routers.base import RouteRef
from canary.routers.gatewayapi import KIND as HTTP_ROUTE
from canary.routers.registry import router_kind


def _without_owner(obj: Mapping[str, Any], owner_uid: str) -> list[dict[str, Any]] | None:
    """The object's owner references without `owner_uid`'s; None when that one is not there."""
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    kept = [dict(r) for r in references if r.get("uid") != owner_uid]
    return None if len(kept) == len(references) else kept


def held_by_another(obj: Mapping[str, Any], owner_uid: str) -> bool:
    """Whether another Canary controls the object: then it is that Canary's, never released."""
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(
        r.get("controller") is True and r.get("kind") == "Canary" and r.get("uid") != owner_uid
        for r in references
    )


def _metadata_patch(obj: Mapping[str, Any], owner_uid: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "resourceVersion": (obj.get("metadata") or {}).get("resourceVersion")
    }
    kept = _without_owner(obj, owner_uid)
    if kept is not None:
        metadata["ownerReferences"] = kept or None
    return metadata


def apex_release_patch(
    service: Mapping[str, Any], *, selector: Mapping[str, str], owner_uid: str
) -> dict[str, Any] | None:
    """The merge patch that points the apex Service at the pods `selector` picks (the target's)
    and drops the Canary's owner reference; None when it already does both."""
    current = (service.get("spec") or {}).get("selector") or {}
    changed = {k: v for k, v in selector.items() if current.get(k) != v}
    metadata = _metadata_patch(service, owner_uid)
    if not changed and "ownerReferences" not in metadata:
        return None
    patch: dict[str, Any] = {"metadata": metadata}
    if changed:
        patch["spec"] = {"selector": changed}
    return patch


def attaches_to_gateway(http_route: Mapping[str, Any]) -> bool:
    """Whether the HTTPRoute has a Gateway parent (north-south), not only Services (mesh)."""
    parents = (http_route.get("spec") or {}).get("parentRefs") or []
    return any(parent.get("kind", "Gateway") != "Service" for parent in parents)


def _mirrors_to(route_filter: Mapping[str, Any], services: set[str]) -> bool:
    backend = (route_filter.get("requestMirror") or {}).get("backendRef") or {}
    return bool(route_filter.get("type") == "RequestMirror" and backend.get("name") in services)


def http_route_release_patch(
    http_route: Mapping[str, Any], *, route: RouteRef, owner_uid: str
) -> dict[str, Any] | None:
    """The merge patch that sends each rule's primary/canary traffic to the apex Service instead
    (on the port those backends used), stops mirroring to them and drops the Canary's owner
    reference; None when the route already does all that."""
    ours = {route.primary_service, route.canary_service}
    rules = []
    changed = False
    for rule in (http_route.get("spec") or {}).get("rules") or []:
        refs = rule.get("backendRefs") or []
        replaced = [
            r for r in refs if r.get("kind", "Service") == "Service" and r.get("name") in ours
        ]
        filters = rule.get("filters") or []
        mirrors = [f for f in filters if _mirrors_to(f, ours)]
        released = dict(rule)
        if replaced:
            apex: dict[str, Any] = {"group": "", "kind": "Service", "name": route.apex}
            if "port" in replaced[0]:
                apex["port"] = replaced[0]["port"]
            released["backendRefs"] = [apex, *(r for r in refs if r not in replaced)]
        if mirrors:
            released["filters"] = [f for f in filters if f not in mirrors]
            if not released["filters"]:
                del released["filters"]
        changed = changed or bool(replaced or mirrors)
        rules.append(released)
    metadata = _metadata_patch(http_route, owner_uid)
    if not changed and "ownerReferences" not in metadata:
        return None
    return {"metadata": metadata, "spec": {"rules": rules}}


async def release_apex(api: ApiClient, route: RouteRef, *, selector: Mapping[str, str]) -> bool:
    """Point the apex Service at `selector`'s pods and keep it beyond the Canary; False when it
    does not exist or already does."""
    service = await resources.get(api, SERVICE, route.apex, namespace=route.namespace)
    owner_uid = route.owner.uid if route.owner is not None else ""
    patch = (
        None
        if service is None or held_by_another(service, owner_uid)
        else apex_release_patch(service, selector=selector, owner_uid=owner_uid)
    )
    if patch is None:
        return False
    await resources.merge_patch(api, SERVICE, route.apex, namespace=route.namespace, patch=patch)
    return True


async def release_route(api: ApiClient, route: RouteRef, *, provider: str) -> str:
    """Stop the route object sending to the primary; what was done ("" when there was nothing
    to do: no such object, or a provider without one). A provider with its own `release`
    decides; otherwise the route object is deleted (an HTTPRoute attached to Gateways is kept,
    sending everything to the apex Service)."""
    try:
        kind = router_kind(provider)
    except ValueError:
        return ""
    if kind.release is not None:
        return await kind.release(api, route)
    if kind.route is None:  # with `kubernetes` the apex Service is the route
        return ""
    return await _release_route_object(api, route, kind.route)


async def _release_route_object(api: ApiClient, route: RouteRef, resource: ResourceKind) -> str:
    name = f"{resource.kind} {route.namespace}/{route.apex}"
    existing = await resources.get(api, resource, route.apex, namespace=route.namespace)
    owner_uid = route.owner.uid if route.owner is not None else ""
    if existing is None or held_by_another(existing, owner_uid):
        return ""
    if resource.kind == HTTP_ROUTE and attaches_to_gateway(existing):
        patch = http_route_release_patch(existing, route=route, owner_uid=owner_uid)
        if patch is None:
            return ""
        await resources.merge_patch(
            api, resource, route.apex, namespace=route.namespace, patch=patch
        )
        return f"{name} sends all traffic to Service {route.apex} and is kept"
    await resources.delete(api, resource, route.apex, namespace=route.namespace)
    return f"{name} deleted"
