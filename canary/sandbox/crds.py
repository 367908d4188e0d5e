"""CustomResourceDefinitions the sandbox installs: the mesh simulator's SMI TrafficSplit (committed
here) and Gateway API's standard channel (copied out of the pinned Go module by the build)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient, ApiextensionsV1Api, V1CustomResourceDefinition
from kubernetes_asyncio.client.exceptions import ApiException

from canary.kube.objects import body

MANIFESTS = Path(__file__).parent / "manifests"
TRAFFIC_SPLIT_CRD = MANIFESTS / "trafficsplit-crd.yaml"


def load(path: Path) -> dict[str, Any]:
    # libyaml's loader when present: Gateway API's CRDs are over 800 kB of YAML.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    manifest: dict[str, Any] = yaml.load(path.read_text(), Loader=loader)  # noqa: S506
    return manifest


async def create_or_replace(client: ApiClient, manifest: dict[str, Any]) -> None:
    """Create the CRD, or replace the one already there with this definition."""
    api = ApiextensionsV1Api(client)
    try:
        await api.create_custom_resource_definition(body(manifest, V1CustomResourceDefinition))
    except ApiException as error:
        if error.status != 409:
            raise
        name = manifest["metadata"]["name"]
        existing = await api.read_custom_resource_definition(name)
        replacement = {
            **manifest,
            "metadata": {
                **manifest["metadata"],
                "resourceVersion": existing.metadata.resource_version,
            },
        }
        await api.replace_custom_resource_definition(
            name, body(replacement, V1CustomResourceDefinition)
        )


async def established(client: ApiClient, name: str) -> bool:
    """The API server serves the CRD's resources (its `Established` condition is True)."""
    crd = await ApiextensionsV1Api(client).read_custom_resource_definition(name)
    conditions = (crd.status.conditions or []) if crd.status is not None else []
    return any(c.type == "Established" and c.status == "True" for c in conditions)
