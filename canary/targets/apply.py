"""The few cluster calls for targets: read, apply the primary, scale or park, observe readiness.

Each call is absolute ("make it so"), so a cycle that stopped halfway is repaired by repeating
it. What to write is decided by the callers and built by `canary.targets.deployment`; this module
only sends it and must not choose templates, replicas or timing itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from canary.core.model import WorkloadReadiness
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.targets.daemonset import park_patch, unpark_patch
from canary.targets.deployment import deployment_readiness
from canary.targets.workload import Workload


async def read_deployment(api: ApiClient, name: str, *, namespace: str) -> dict[str, Any] | None:
    """The Deployment `name`, or None when it does not exist."""
    return await resources.get(api, resources.DEPLOYMENT, name, namespace=namespace)


async def apply_deployment(api: ApiClient, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Server-side apply a Deployment built by `canary.targets.deployment` (e.g. the primary)."""
    if manifest.get("kind") != resources.DEPLOYMENT.kind:
        raise ValueError(f"expected a Deployment manifest, got kind {manifest.get('kind')!r}")
    return await resources.apply(api, manifest)


async def scale_deployment(api: ApiClient, name: str, *, namespace: str, replicas: int) -> None:
    """Set the Deployment's replicas to `replicas` (0 to park the canary, N to start it)."""
    await resources.scale(api, resources.DEPLOYMENT, name, namespace=namespace, replicas=replicas)


async def observe_readiness(  # noqa: PLR0913 - keyword-only: the deadline and threshold to judge by
    api: ApiClient,
    name: str,
    *,
    namespace: str,
    progress_deadline_seconds: float,
    ready_threshold_percent: int = 100,
    now: datetime,
) -> WorkloadReadiness:
    """Read the Deployment and judge it; a missing one is reported by name."""
    deployment = await read_deployment(api, name, namespace=namespace)
    if deployment is None:
        return WorkloadReadiness(
            exists=False, ready=False, message=f"deployment {namespace}/{name} does not exist"
        )
    return deployment_readiness(
        deployment,
        progress_deadline_seconds=progress_deadline_seconds,
        ready_threshold_percent=ready_threshold_percent,
        now=now,
    )


async def read_target(
    api: ApiClient, workload: Workload, name: str, *, namespace: str
) -> dict[str, Any] | None:
    """The target (or primary) `name` of `workload`'s kind, or None when it does not exist."""
    return await resources.get(api, workload.resource, name, namespace=namespace)


async def apply_primary(api: ApiClient, workload: Workload, manifest: Mapping[str, Any]) -> None:
    """Server-side apply a primary built by `workload.primary`."""
    if manifest.get("kind") != workload.kind:
        raise ValueError(f"expected a {workload.kind} manifest, got kind {manifest.get('kind')!r}")
    if not workload.copies:
        # The target itself records its primary (a Knative Service's annotation): a merge
        # patch of that alone, leaving the user's fields (and the router's traffic) as they are.
        metadata = manifest.get("metadata") or {}
        await resources.merge_patch(
            api,
            workload.resource,
            str(metadata.get("name")),
            namespace=str(metadata.get("namespace")),
            patch={"metadata": {"annotations": dict(metadata.get("annotations") or {})}},
        )
        return
    await resources.apply(api, manifest)


async def scale_target(
    api: ApiClient, workload: Workload, target: Mapping[str, Any], *, replicas: int
) -> None:
    """Park the target (`replicas` 0) or start it: a Deployment's replicas are set; a DaemonSet
    is parked by its node selector, and started on every node it may run on (`replicas` > 0)."""
    metadata = target.get("metadata") or {}
    name, namespace = str(metadata.get("name")), str(metadata.get("namespace"))
    if not workload.copies:
        return  # the target serves the primary too (Knative scales its Revisions itself)
    if workload.replicated:
        if (target.get("spec") or {}).get("replicas") != replicas:
            await resources.scale(
                api, workload.resource, name, namespace=namespace, replicas=replicas
            )
        return
    patch = park_patch(target) if replicas == 0 else unpark_patch(target)
    if patch is not None:
        await resources.merge_patch(api, workload.resource, name, namespace=namespace, patch=patch)
