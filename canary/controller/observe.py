"""Gather what one reconcile cycle needs to know about a Canary's world, before `decide` runs.

Reads only: the target, the primary (and its HPA or ScaledObject) and the route. Metric checks
run separately (`checks.py`), and only when the core says a tick is due.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from canary.api.canary import Canary
from canary.controller.manual import requests_of
from canary.core.model import Observation, WorkloadReadiness
from canary.kube.resources import Reader
from canary.routers.base import Router, RouteRef
from canary.targets.autoscaler_apply import primary_autoscaler_exists
from canary.targets.configs import TrackedConfigs
from canary.targets.tracking import read_configs
from canary.targets.workload import ObjectAt, Workload, workload_of


@dataclass(frozen=True)
class World:
    """The objects read this cycle, kept for executing actions without reading them again."""

    target: dict[str, Any] | None
    primary: dict[str, Any] | None
    observation: Observation
    configs: dict[str, str] = field(default_factory=dict)  # checksums of the target's configs


TargetReader = Callable[[str, str], Awaitable[dict[str, Any] | None]]  # (namespace, name)


async def observe(  # noqa: PLR0913 - keyword-only: what to read with, and when
    read: TargetReader,
    canary: Canary,
    *,
    router: Router,
    route: RouteRef,
    now: datetime,
    read_object: Reader,
) -> World:
    namespace, target_name = canary.metadata.namespace, canary.spec.target_ref.name
    analysis = canary.spec.analysis
    deadline = float(canary.spec.progress_deadline_seconds)
    workload = workload_of(canary.spec.target_ref.kind)
    target = await read(namespace, target_name)
    primary = await _read_at(read_object, workload.primary_at(target_name, target), namespace)
    canary_at = workload.canary_at(target)
    # The canary is the target itself, or what the target names (a Knative Service's latest
    # Revision: none yet reads as not ready).
    serving = target if canary_at is None else await _read_at(read_object, canary_at, namespace)
    weights = await router.get_weights(route)
    autoscaled = await primary_autoscaler_exists(
        read_object, canary.spec.autoscaler_ref, namespace=namespace
    )
    template = workload.template(target)
    manual = requests_of(canary.metadata.annotations)
    configs = (
        await read_configs(read_object, template, namespace=namespace)
        if isinstance(template, dict) and workload.copies
        else TrackedConfigs()
    )
    observation = Observation(
        now=now,
        paused=manual.paused,
        abort_revision=manual.abort_revision,
        promote_revision=manual.promote_revision,
        retry_revision=manual.retry_revision,
        retry_failed_at=manual.retry_failed_at,
        target_revision=workload.revision(target, configs),
        primary=workload.readiness(
            primary,
            progress_deadline_seconds=deadline,
            ready_threshold_percent=analysis.primary_ready_threshold,
            now=now,
        ),
        canary=_canary_readiness(workload, serving, canary, deadline=deadline, now=now),
        initialized=primary is not None and weights is not None and autoscaled,
        route_weights=weights,
        primary_revision=workload.primary_revision(primary),
    )
    return World(target=target, primary=primary, observation=observation, configs=configs.checksums)


async def _read_at(read: Reader, at: ObjectAt | None, namespace: str) -> dict[str, Any] | None:
    if at is None:
        return None
    kind, name = at
    return await read(kind, namespace, name)


def _canary_readiness(
    workload: Workload,
    target: dict[str, Any] | None,
    canary: Canary,
    *,
    deadline: float,
    now: datetime,
) -> WorkloadReadiness:
    readiness = workload.readiness(
        target,
        progress_deadline_seconds=deadline,
        ready_threshold_percent=canary.spec.analysis.canary_ready_threshold,
        now=now,
    )
    if not workload.parked(target) or target is None:
        return readiness
    if readiness.ready:
        # A target scaled to zero is "rolled out" but serves nothing: not ready as a canary.
        return WorkloadReadiness(exists=True, ready=False, message="scaled to zero", parked=True)
    return dataclasses.replace(readiness, parked=True)
