"""Carry out the core's actions against the cluster, each one absolute and idempotent.

An action that cannot be carried out raises; the cycle then ends without writing status, and
the next cycle decides again from what is really there. The one safety check done here rather
than in the core: a promotion re-reads the target and copies its template only if it is still
the revision that passed analysis.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, assert_never

import structlog

from canary.api.canary import Canary
from canary.controller.convert import service_spec
from canary.core.model import (
    Action,
    Initialize,
    PromoteTemplate,
    RecordEvent,
    ScaleCanary,
    SetWeights,
)
from canary.kube.client import ApiClient
from canary.kube.events import record_event
from canary.kube.resources import CanaryRef, api_reader
from canary.routers.base import Router, RouteRef
from canary.routers.kubernetes import apply_services, discovered_ports
from canary.targets.apply import apply_primary, read_target, scale_target
from canary.targets.autoscaler import AutoscalerError
from canary.targets.autoscaler_apply import (
    apply_autoscaled_primary,
    apply_primary_autoscaler,
    canary_replicas_within_bounds,
    pause_target_scaler,
)
from canary.targets.configs import TrackedConfigs, missing_message
from canary.targets.deployment import replicas_to_scale_up, selector_label
from canary.targets.tracking import apply_copies, read_configs
from canary.targets.workload import DEPLOYMENT_WORKLOAD, Workload

log = structlog.get_logger(__name__)


class CannotActError(Exception):
    """An action is impossible as things stand (e.g. the target Deployment is missing)."""


@dataclass(frozen=True)
class Context:
    api: ApiClient
    canary: Canary
    raw: dict[str, Any]  # the Canary as read, for events
    router: Router
    route: RouteRef
    owner: CanaryRef
    target: dict[str, Any] | None
    primary: dict[str, Any] | None
    last_promoted_revision: str
    label_prefixes: tuple[str, ...] = ()  # the target's labels the primary gets, by prefix
    workload: Workload = DEPLOYMENT_WORKLOAD  # the target's kind


async def execute(context: Context, action: Action) -> None:
    match action:
        case Initialize():
            await _initialize(context, scale_target_to_zero=action.scale_target_to_zero)
        case SetWeights():
            try:
                await context.router.set_weights(
                    context.route,
                    primary=action.primary,
                    canary=action.canary,
                    mirror=action.mirror,
                )
            except ValueError as error:  # the router cannot route so (RouteError among them)
                raise CannotActError(str(error)) from error
        case ScaleCanary():
            await _scale_canary(context, up=action.up)
        case PromoteTemplate():
            await _promote(context, action.revision)
        case RecordEvent():
            await _event(context, action.reason, action.message, warning=action.warning)
        case _:
            assert_never(action)


async def _event(context: Context, reason: str, message: str, *, warning: bool = False) -> None:
    log.info("canary_event", reason=reason, message=message, warning=warning)
    await record_event(context.api, context.raw, reason=reason, message=message, warning=warning)


def _target(context: Context) -> dict[str, Any]:
    if context.target is None:
        ref = context.canary.spec.target_ref
        raise CannotActError(
            f"target {ref.kind} {context.canary.metadata.namespace}/{ref.name} not found"
        )
    return context.target


async def _initialize(context: Context, *, scale_target_to_zero: bool) -> None:
    target = _target(context)
    workload = context.workload
    await _sync_autoscaler(context)
    if context.primary is None:
        configs = await _configs(context, target)
        target_revision = workload.revision(target, configs)
        if context.last_promoted_revision not in ("", target_revision):
            # The primary must only ever run an analysed template, and the target holds an
            # unanalysed one: recreating the primary from it would promote it silently.
            raise CannotActError(
                f"the primary {workload.kind} is missing and the target no longer runs the last "
                f"promoted revision {context.last_promoted_revision}; restore the target to it "
                "or recreate the Canary"
            )
        await apply_copies(context.api, configs, owner=context.owner)
        await _apply_primary(
            context,
            workload.primary(
                target,
                template=configs.primary_template(_template_of(context, target)),
                owner=context.owner,
                revision=target_revision,
                label_prefixes=context.label_prefixes,
            ),
        )
    if workload.copies:
        await _apply_services(context, target)
    try:
        await context.router.reconcile(context.route)
    except ValueError as error:  # the route cannot be written so (the user's Ingress is missing)
        raise CannotActError(str(error)) from error
    if scale_target_to_zero:
        await _pause_target_scaler(context, paused=True)
    if scale_target_to_zero:
        await scale_target(context.api, workload, target, replicas=0)


async def _apply_services(context: Context, target: dict[str, Any]) -> None:
    """The apex, `-primary` and `-canary` Services of a target that has a primary copy."""
    label = selector_label(target)
    spec = service_spec(context.canary)
    if context.canary.spec.service.port_discovery:
        containers = ((target.get("spec") or {}).get("template") or {}).get("spec") or {}
        found = discovered_ports(spec, containers.get("containers") or [])
        spec = replace(spec, discovered_ports=found)
    adopted = await apply_services(
        context.api,
        spec,
        selector_label=label.key,
        selector_value=label.value,
        owner=context.owner,
    )
    if adopted:
        await _event(context, "ServiceAdopted", adopted)


async def _scale_canary(context: Context, *, up: bool) -> None:
    target = _target(context)
    replicas = await _scale_up_replicas(context, target) if up else 0
    # A ScaledObject would scale the parked canary up from zero: it runs only during a run.
    await _pause_target_scaler(context, paused=not up)
    await scale_target(context.api, context.workload, target, replicas=replicas)


async def _promote(context: Context, wanted: str) -> None:
    namespace = context.canary.metadata.namespace
    workload = context.workload
    target = await read_target(
        context.api, workload, context.canary.spec.target_ref.name, namespace=namespace
    )
    if target is None:
        raise CannotActError(f"target {workload.kind} disappeared before promotion")
    configs = await _configs(context, target)
    current = workload.revision(target, configs)
    if current != wanted:
        # A newer revision arrived after the checks passed: never promote what was not analysed.
        raise CannotActError(
            f"target changed to revision {current} before revision {wanted} was promoted"
        )
    await _sync_autoscaler(context)  # the target HPA's changes reach the primary's with it
    await apply_copies(context.api, configs, owner=context.owner)  # with the template, below
    manifest = workload.primary(
        target,
        template=configs.primary_template(_template_of(context, target)),
        owner=context.owner,
        revision=wanted,
        label_prefixes=context.label_prefixes,
        manage_replicas=context.canary.spec.autoscaler_ref is None,
    )
    if context.primary is not None:
        # Keep the primary's replica count: the target runs as the canary at its own scale.
        replicas = (context.primary.get("spec") or {}).get("replicas")
        if isinstance(replicas, int) and replicas > 0 and "replicas" in manifest["spec"]:
            manifest["spec"]["replicas"] = replicas
    await _apply_primary(context, manifest)


def _template_of(context: Context, target: dict[str, Any]) -> dict[str, Any]:
    """The target's pod template as the user wrote it (a DaemonSet's without its parking)."""
    template = context.workload.template(target)
    if template is None:
        ref = context.canary.spec.target_ref
        raise CannotActError(f"target {ref.kind} {ref.name} has no spec.template")
    return template


async def _configs(context: Context, target: dict[str, Any]) -> TrackedConfigs:
    """The target's tracked configs, read from the API server: they are about to be copied
    (none for a target that holds its primary itself: nothing is copied)."""
    if not context.workload.copies:
        return TrackedConfigs()
    namespace = context.canary.metadata.namespace
    template = _template_of(context, target)
    configs = await read_configs(api_reader(context.api), template, namespace=namespace)
    if configs.missing:
        name = context.canary.spec.target_ref.name
        raise CannotActError(missing_message(configs.missing, namespace=namespace, target=name))
    return configs


# With spec.autoscalerRef: the primary gets its own HPA or ScaledObject, and its replicas are
# left to it.


@contextmanager
def _autoscaler_errors() -> Iterator[None]:
    """An unusable autoscalerRef stops the action, as a missing target does."""
    try:
        yield
    except AutoscalerError as error:
        raise CannotActError(str(error)) from error


async def _sync_autoscaler(context: Context) -> None:
    """Apply `<name>-primary` from the target's HPA or ScaledObject as it is now (when the
    Canary names one)."""
    ref = context.canary.spec.autoscaler_ref
    if ref is not None and not context.workload.replicated:
        raise CannotActError(
            f"spec.autoscalerRef: a {context.workload.kind} has no replicas to scale; "
            "remove autoscalerRef from this Canary"
        )
    if ref is not None:
        with _autoscaler_errors():
            await apply_primary_autoscaler(
                context.api,
                ref,
                target_name=context.canary.spec.target_ref.name,
                owner=context.owner,
            )


async def _pause_target_scaler(context: Context, *, paused: bool) -> None:
    with _autoscaler_errors():
        await pause_target_scaler(
            context.api,
            context.canary.spec.autoscaler_ref,
            namespace=context.canary.metadata.namespace,
            paused=paused,
        )


async def _apply_primary(context: Context, manifest: dict[str, Any]) -> None:
    if context.canary.spec.autoscaler_ref is None:
        await apply_primary(context.api, context.workload, manifest)
    else:
        await apply_autoscaled_primary(context.api, manifest, live=context.primary)


async def _scale_up_replicas(context: Context, target: dict[str, Any]) -> int:
    ref = context.canary.spec.autoscaler_ref
    if not context.workload.replicated:
        return 1  # any count above zero: a DaemonSet runs on every node it may
    if ref is None:
        return replicas_to_scale_up(target, primary=context.primary)
    with _autoscaler_errors():
        return await canary_replicas_within_bounds(
            context.api,
            ref,
            target=target,
            primary=context.primary,
            namespace=context.canary.metadata.namespace,
        )
