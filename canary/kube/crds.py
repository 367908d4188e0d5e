"""Install CustomResourceDefinitions and wait until the API server serves them.

Server-side apply makes installing idempotent and upgrades in place; the wait matters because a
CRD is usable only once `Established`, and creating objects before that fails with 404.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from typing import Any

from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.errors import KubeError
from canary.kube.resources import CUSTOM_RESOURCE_DEFINITION


async def install_crds(
    api: ApiClient, crds: Iterable[Mapping[str, Any]], *, within: float = 60.0
) -> list[str]:
    """Apply every CRD, then wait (up to `within` seconds) until all are Established."""
    names = []
    for crd in crds:
        await resources.apply(api, crd)
        names.append(str(crd["metadata"]["name"]))
    deadline = time.monotonic() + within
    for name in names:
        while not await established(api, name):
            if time.monotonic() > deadline:
                raise KubeError(
                    f"CustomResourceDefinition {name} not Established after {within:g} s"
                )
            await asyncio.sleep(0.1)
    return names


async def established(api: ApiClient, name: str) -> bool:
    """The API server serves the CRD's resources (its `Established` condition is True)."""
    crd = await resources.get(api, CUSTOM_RESOURCE_DEFINITION, name, namespace=None)
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
