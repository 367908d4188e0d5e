"""URL paths of API resources, from apiVersion and plural, for the raw (dict-based) calls.

The generated client has one method per kind and deserialises into model classes; the controller
works with plain dicts of manifests and watches several kinds the same way, so it builds paths.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    """A namespaced resource type: `apps/v1` + `deployments`, or `v1` + `services`."""

    api_version: str
    plural: str

    def collection(self, namespace: str | None) -> str:
        """The list/watch path, across all namespaces when `namespace` is None."""
        base = (
            f"/api/{self.api_version}"
            if "/" not in self.api_version
            else f"/apis/{self.api_version}"
        )
        if namespace is None:
            return f"{base}/{self.plural}"
        return f"{base}/namespaces/{namespace}/{self.plural}"

    def item(self, namespace: str, name: str) -> str:
        return f"{self.collection(namespace)}/{name}"


CANARIES = Resource("canary.dev/v1alpha1", "canaries")
METRIC_TEMPLATES = Resource("canary.dev/v1alpha1", "metrictemplates")
DEPLOYMENTS = Resource("apps/v1", "deployments")
SERVICES = Resource("v1", "services")
EVENTS = Resource("v1", "events")
# Watched to serve route reads from a cache; every SMI version relabels the same stored objects.
TRAFFIC_SPLITS = Resource("split.smi-spec.io/v1alpha2", "trafficsplits")
