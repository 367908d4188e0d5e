"""The cluster calls of config tracking: read a template's configs, write their `-primary` copies.

What to track and what to write is decided in `canary.targets.configs`; this module only reads
through a `Reader` (the controller's watch caches, or the API server) and server-side applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import CONFIG_MAP, SECRET, CanaryRef, Reader, ResourceKind
from canary.targets.configs import (
    ConfigKind,
    TrackedConfigs,
    config_refs,
    copy_name,
    primary_copy,
    tracked_configs,
)

_RESOURCES: dict[ConfigKind, ResourceKind] = {"configmap": CONFIG_MAP, "secret": SECRET}


async def read_configs(
    read: Reader, template: Mapping[str, Any], *, namespace: str
) -> TrackedConfigs:
    """The tracked configs of `template` in `namespace`, as `read` sees them."""
    refs = config_refs(template)
    found = {ref.key: await read(_RESOURCES[ref.kind], namespace, ref.name) for ref in refs}
    return tracked_configs(refs, found)


async def apply_copies(api: ApiClient, configs: TrackedConfigs, *, owner: CanaryRef) -> None:
    """Create or update the `-primary` copy of every tracked config (absolute and repeatable).

    The existing copy is read from the API server first, to keep other Canaries' references.
    """
    for obj in configs.objects.values():
        kind = resources.resource_kind("v1", str(obj.get("kind")))
        name = copy_name(str((obj.get("metadata") or {}).get("name")))
        existing = await resources.get(api, kind, name, namespace=owner.namespace)
        await resources.apply(api, primary_copy(obj, owner=owner, existing=existing))
