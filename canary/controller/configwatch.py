"""Which Canaries a changed ConfigMap or Secret concerns: those whose targets use it.

The controller watches ConfigMaps and Secrets (to serve config reads from the cache and to start
a release when a tracked one changes). An event must wake exactly the Canaries whose target uses
the object, and finding them must stay cheap when the cluster has many configs that change
often: the references of each target (Deployment or DaemonSet) are computed from the cached
object once per resourceVersion, so an event costs one pass over the Canaries' targets, not over
templates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from canary.controller.cache import ObjectCache
from canary.controller.scheduler import Key
from canary.targets.configs import config_refs

# The watch plural of each config kind -> the kind in a reference key ("configmap/<name>").
REFERENCE_KINDS: Mapping[str, str] = {"configmaps": "configmap", "secrets": "secret"}

Deployment = tuple[str, str]  # (namespace, name) of a Deployment or DaemonSet
_WORKLOADS: Final = ("deployments", "daemonsets")


def _template(obj: Mapping[str, Any]) -> dict[str, Any]:
    template = (obj.get("spec") or {}).get("template")
    return template if isinstance(template, dict) else {}


class ConfigUsers:
    def __init__(self, cache: ObjectCache) -> None:
        self._cache = cache
        # (namespace, Deployment name) -> (its resourceVersion, the keys of the configs it uses)
        self._refs: dict[Deployment, tuple[str, frozenset[str]]] = {}

    def canaries(
        self,
        plural: str,
        objects: Iterable[Mapping[str, Any]],
        deployments: Mapping[Deployment, set[Key]],
    ) -> set[Key]:
        """The Canaries whose Deployments (`deployments`: Deployment -> its Canaries) use any of
        `objects` (ConfigMaps or Secrets, as `plural` says)."""
        wanted: dict[str, set[str]] = {}  # namespace -> reference keys
        for obj in objects:
            metadata = obj.get("metadata") or {}
            namespace, name = str(metadata.get("namespace")), str(metadata.get("name"))
            wanted.setdefault(namespace, set()).add(f"{REFERENCE_KINDS[plural]}/{name}")
        found: set[Key] = set()
        for deployment, keys in deployments.items():
            namespace = deployment[0]
            if keys and namespace in wanted and self._uses(deployment) & wanted[namespace]:
                found |= keys
        self._forget_all_but(deployments)
        return found

    def _uses(self, deployment: Deployment) -> frozenset[str]:
        namespace, name = deployment
        found = [self._cache.get(plural, namespace, name) for plural in _WORKLOADS]
        objects = [obj for obj in found if obj is not None]
        if not objects:
            return frozenset()
        version = "/".join(str((o.get("metadata") or {}).get("resourceVersion")) for o in objects)
        known = self._refs.get(deployment)
        if known is not None and known[0] == version:
            return known[1]
        keys = frozenset(ref.key for obj in objects for ref in config_refs(_template(obj)))
        self._refs[deployment] = (version, keys)
        return keys

    def _forget_all_but(self, deployments: Mapping[Deployment, set[Key]]) -> None:
        for gone in [d for d in self._refs if not deployments.get(d)]:
            del self._refs[gone]
