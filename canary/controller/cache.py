"""The latest objects the watches delivered, so a reconcile cycle need not read them again.

Canaries, their workloads, ConfigMaps, Secrets, Services and route objects are watched (to wake
cycles, or for their reads); keeping what the watches say saves every cycle three GETs, and one
per ConfigMap or Secret the target uses (config tracking reads them for the revision). A read is
answered from the cache only once the watch covering that namespace has listed; before that the
caller reads from the API server. A stale read is safe: the status write is guarded by the
resourceVersion it read (409 means "read again"), and the controller puts the object its own
write returned straight into the cache.

Objects are kept without their `managedFields` (more than half of a Deployment's size), but for
the one fact this controller reads there: whether one of its own field managers owns a
Deployment's `spec.replicas` (`canary.targets.autoscaler`). Canaries too, although their status
is written with a PUT of the object as the cache holds it: a PUT without `managedFields` leaves
the server's record as it is, only a non-empty list would replace it
(tests/integration/test_cache.py).
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from canary.kube.resources import FIELD_MANAGER, ResourceKind

Scope = str | None  # a namespace, or None for all of them
# Objects are kept by plural; these plurals are also another API group's (a Knative Service is
# `services` of serving.knative.dev): the cache answers for the API version it watches only.
SHARED_PLURALS: Final = {"services": "v1"}
# All a kept managedFields entry says (see the module docstring):
REPLICAS_OWNED: Final[dict[str, Any]] = {"f:spec": {"f:replicas": {}}}


def answers_for(kind: ResourceKind) -> bool:
    """Whether objects of `kind` may be in the cache under its plural (not another group's)."""
    return SHARED_PLURALS.get(kind.plural, kind.api_version) == kind.api_version


class Follower(Protocol):
    """Told of every change to one kind's objects in the cache (an index kept beside it)."""

    def put(self, raw: dict[str, Any]) -> None: ...
    def delete(self, raw: dict[str, Any]) -> None: ...
    def replace(self, namespace: Scope, items: tuple[dict[str, Any], ...]) -> None: ...


class ObjectCache:
    """Objects by kind and namespace: a read costs the same with 10 or 10,000 objects cached,
    and listing one namespace's Canaries walks only those. A `Follower` of a kind sees every
    change to it (`canary.controller.claimindex` indexes the Canaries' claims so)."""

    def __init__(self) -> None:
        self._objects: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._synced: set[tuple[str, Scope]] = set()
        self._followers: dict[str, Follower] = {}

    def follow(self, plural: str, follower: Follower) -> None:
        self._followers[plural] = follower

    def replace(self, plural: str, scope: Scope, items: tuple[dict[str, Any], ...]) -> None:
        """A (re)list: the complete set of `plural` objects in `scope`."""
        for key in [k for k in self._objects if k[0] == plural and scope in (None, k[1])]:
            del self._objects[key]
        for item in items:
            self._store(plural, item)
        self._synced.add((plural, scope))
        if plural in self._followers:
            self._followers[plural].replace(scope, items)

    def put(self, plural: str, obj: dict[str, Any]) -> None:
        self._store(plural, obj)
        if plural in self._followers:
            self._followers[plural].put(obj)

    def _store(self, plural: str, obj: dict[str, Any]) -> None:
        metadata = obj.get("metadata") or {}
        where = (plural, str(metadata.get("namespace")))
        self._objects.setdefault(where, {})[str(metadata.get("name"))] = slim(obj)

    def delete(self, plural: str, obj: dict[str, Any]) -> None:
        metadata = obj.get("metadata") or {}
        named = self._objects.get((plural, str(metadata.get("namespace"))))
        if named is not None:
            named.pop(str(metadata.get("name")), None)
        if plural in self._followers:
            self._followers[plural].delete(obj)

    def knows(self, plural: str, namespace: str) -> bool:
        """Whether a watch covering `namespace` has listed `plural` (so absence means absent)."""
        return (plural, None) in self._synced or (plural, namespace) in self._synced

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._objects.get((plural, namespace), {}).get(name)

    def items(self, plural: str, namespace: str) -> list[dict[str, Any]]:
        """Every `plural` object of `namespace` the watches delivered."""
        return list(self._objects.get((plural, namespace), {}).values())


def slim(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with, of its `managedFields`, only what this controller reads: which of its own
    field managers own `spec.replicas` (a shallow copy, when anything went)."""
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or "managedFields" not in metadata:
        return obj
    kept = [
        {**{k: v for k, v in entry.items() if k != "fieldsV1"}, "fieldsV1": REPLICAS_OWNED}
        for entry in metadata["managedFields"] or []
        if str(entry.get("manager", "")).startswith(FIELD_MANAGER)
        and "f:replicas" in (((entry.get("fieldsV1") or {}).get("f:spec")) or {})
    ]
    trimmed = {k: v for k, v in metadata.items() if k != "managedFields"}
    return {**obj, "metadata": {**trimmed, "managedFields": kept} if kept else trimmed}
