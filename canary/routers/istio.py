"""The Istio router (`provider: istio`): a VirtualService and two DestinationRules per Canary.

The objects are built in `istio_objects.py`, as Flagger writes them. This module applies them
and reads the weights back. A VirtualService named after the apex Service that the user made
before the Canary is adopted: its spec as it was is kept on it (annotation
`canary.dev/original-configuration`), it gets no owner reference (deleting the Canary never
deletes it), and with `revertOnDeletion` the Canary's release puts that spec back (Flagger's
Finalize does the same). A VirtualService the Canary created is deleted on release: the mesh
then sends the apex Service's requests to its own endpoints, the target's pods.

This module must not decide weights, nor touch Services.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import DESTINATION_RULE, VIRTUAL_SERVICE, Reader
from canary.routers.base import Router, RouteRef, kept_weights
from canary.routers.istio_objects import (
    APPLIED,
    ORIGINAL_ANNOTATION,
    IstioSettings,
    destination_rule,
    istio_settings,
    virtual_service,
    virtual_service_weights,
)
from canary.routers.kind import RouterKind
from canary.routers.settings import RouteSettings
from canary.routers.sticky import (
    CURRENT_ANNOTATION,
    PREVIOUS_ANNOTATION,
    PRIMARY_ANNOTATION,
    cookies_for,
)

_OURS: Final = (ORIGINAL_ANNOTATION, CURRENT_ANNOTATION, PREVIOUS_ANNOTATION, PRIMARY_ANNOTATION)


def _annotations(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def _owned_by(obj: Mapping[str, Any], route: RouteRef) -> bool:
    uid = route.owner.uid if route.owner is not None else None
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(r.get("kind") == "Canary" and r.get("uid") == uid for r in references)


def _unadopted(existing: Mapping[str, Any], route: RouteRef) -> bool:
    """Whether `existing` is the user's VirtualService that the Canary has not adopted yet."""
    kept = _annotations(existing).get(ORIGINAL_ANNOTATION)
    return kept is None and route.owner is not None and not _owned_by(existing, route)


def original_of(existing: Mapping[str, Any] | None, route: RouteRef) -> str | None:
    """The spec (JSON) to keep on the VirtualService: the one it already keeps, or, for a
    VirtualService the user made (not the Canary's), its spec now; None for the Canary's own."""
    if existing is None:
        return None
    kept = _annotations(existing).get(ORIGINAL_ANNOTATION)
    if isinstance(kept, str):
        return kept
    if not _unadopted(existing, route):
        return None  # the Canary's own (without an owner, it cannot tell: never adopted)
    return json.dumps(existing.get("spec") or {}, sort_keys=True, separators=(",", ":"))


class IstioRouter:
    """The `Router` writing a VirtualService and DestinationRules (networking.istio.io)."""

    def __init__(self, api: ApiClient, settings: IstioSettings, *, read: Reader | None) -> None:
        self._api = api
        self.settings = settings
        self._reader = read or resources.api_reader(api)

    async def _read(self, route: RouteRef) -> dict[str, Any] | None:
        return await self._reader(VIRTUAL_SERVICE, route.namespace, route.apex)

    async def reconcile(self, route: RouteRef) -> None:
        """Apply the DestinationRules; create the VirtualService at 100/0 if absent, otherwise
        re-apply it with its current weights (100/0 when it no longer splits between the two
        Services: the safe side)."""
        for name in (route.canary_service, route.primary_service):
            await resources.apply(self._api, destination_rule(name, route, self.settings))
        existing = await self._read(route)
        weights = kept_weights(existing, lambda found: virtual_service_weights(found, route))
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        existing = await self._read(route)
        cookies = None
        if self.settings.affinity is not None:
            cookies = cookies_for(existing, self.settings.affinity, canary_weight=canary)
        manifest = virtual_service(
            route,
            self.settings,
            primary_weight=primary,
            canary_weight=canary,
            mirror=mirror,
            cookies=cookies,
            original=original_of(existing, route),
        )
        await resources.apply(self._api, manifest)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        """The weights; None when there is no VirtualService yet or only the user's, not yet
        adopted (then `reconcile` adopts it, as it creates a missing one)."""
        existing = await self._read(route)
        if existing is None or _unadopted(existing, route):
            return None
        return virtual_service_weights(existing, route)


def restore_patch(vs: Mapping[str, Any], *, owner_uid: str) -> dict[str, Any] | None:
    """The merge patch that puts an adopted VirtualService's kept spec back, drops the Canary's
    annotations and owner reference; None when it keeps no spec (the Canary made it)."""
    kept = _annotations(vs).get(ORIGINAL_ANNOTATION)
    if not isinstance(kept, str):
        return None
    try:
        original = json.loads(kept)
    except ValueError:
        return None
    if not isinstance(original, dict):
        return None
    current = vs.get("spec") or {}
    spec = {key: None for key in current if key not in original} | original
    metadata: dict[str, Any] = {
        "resourceVersion": (vs.get("metadata") or {}).get("resourceVersion"),
        "annotations": {key: None for key in _OURS if key in _annotations(vs)},
    }
    references = (vs.get("metadata") or {}).get("ownerReferences") or []
    kept_refs = [r for r in references if r.get("uid") != owner_uid]
    if len(kept_refs) != len(references):
        metadata["ownerReferences"] = kept_refs or None
    return {"metadata": metadata, "spec": spec}


async def release(api: ApiClient, route: RouteRef) -> str:
    """Hand the traffic back before the Canary goes (revertOnDeletion): an adopted
    VirtualService gets its own spec back and is kept; one the Canary made is deleted, and so
    are the DestinationRules."""
    # Imported here: canary.routers.release imports the registry, which imports this module.
    from canary.routers.release import held_by_another  # noqa: PLC0415

    owner_uid = route.owner.uid if route.owner is not None else ""
    done = []
    for name in (route.canary_service, route.primary_service):
        rule = await resources.get(api, DESTINATION_RULE, name, namespace=route.namespace)
        if rule is not None and not held_by_another(rule, owner_uid):
            await resources.delete(api, DESTINATION_RULE, name, namespace=route.namespace)
            done.append(f"DestinationRule {route.namespace}/{name} deleted")
    name = f"VirtualService {route.namespace}/{route.apex}"
    vs = await resources.get(api, VIRTUAL_SERVICE, route.apex, namespace=route.namespace)
    if vs is not None and not held_by_another(vs, owner_uid):
        patch = restore_patch(vs, owner_uid=owner_uid)
        if patch is not None:
            await resources.merge_patch(
                api, VIRTUAL_SERVICE, route.apex, namespace=route.namespace, patch=patch
            )
            done.append(f"{name} restored to its spec before the Canary and kept")
        else:
            await resources.delete(api, VIRTUAL_SERVICE, route.apex, namespace=route.namespace)
            done.append(f"{name} deleted")
    return "; ".join(done)


def build(api: ApiClient, read: Reader | None, settings: RouteSettings) -> Router:
    """The router of a Canary with `provider: istio`; ValueError naming a field it cannot apply."""
    return IstioRouter(api, istio_settings(settings), read=read)


def validate(settings: RouteSettings) -> IstioSettings:
    """The settings for Istio; ValueError naming a field it cannot apply (nothing built)."""
    return istio_settings(settings)


# What `canary.routers.registry` needs to describe this router (it builds the RouterKind: this
# module cannot import the registry, which imports it).
ROUTE: Final = VIRTUAL_SERVICE
FIELDS: Final = APPLIED


# What the registry lists for provider `istio`.
ROUTER: Final = RouterKind(
    build=build,
    route=ROUTE,
    applies=FIELDS,
    can_match=True,
    match_source_labels=True,
    can_mirror=True,
    sticky=True,
    release=release,
    validate=validate,
    generic=frozenset({"spec.service.timeout", "spec.service.headers", "spec.service.hosts"}),
)
