"""Carry out the core's actions against the cluster, each one absolute and idempotent.

An action that cannot be carried out raises; the cycle then ends without writing status, and
the next cycle decides again from what is really there. The one safety check done here rather
than in the core: a promotion re-reads the target and copies its template only if it is still
the revision that passed analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_never

import structlog

from canary.api.canary import Canary
from canary.core.model import (
    Action,
    Initialize,
    PromoteTemplate,
    RecordEvent,
    ScaleCanary,
    SetWeights,
)
from canary.core.revision import revision
from canary.kube.client import ApiClient
from canary.kube.events import record_event
from canary.kube.resources import CanaryRef
from canary.routers.base import Router, RouteRef
from canary.routers.kubernetes import ServiceSpec, apply_services
from canary.targets.apply import apply_deployment, read_deployment, scale_deployment
from canary.targets.deployment import (
    primary_deployment,
    primary_from_target,
    replicas_to_scale_up,
    selector_label,
)

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


async def execute(context: Context, action: Action) -> None:
    match action:
        case Initialize():
            await _initialize(context, scale_target_to_zero=action.scale_target_to_zero)
        case SetWeights():
            await context.router.set_weights(
                context.route, primary=action.primary, canary=action.canary
            )
        case ScaleCanary():
            await _scale_canary(context, up=action.up)
        case PromoteTemplate():
            await _promote(context, action.revision)
        case RecordEvent():
            log.info(
                "canary_event",
                reason=action.reason,
                message=action.message,
                warning=action.warning,
            )
            await record_event(
                context.api,
                context.raw,
                reason=action.reason,
                message=action.message,
                warning=action.warning,
            )
        case _:
            assert_never(action)


def _target(context: Context) -> dict[str, Any]:
    if context.target is None:
        ref = context.canary.spec.target_ref
        raise CannotActError(
            f"target Deployment {context.canary.metadata.namespace}/{ref.name} not found"
        )
    return context.target


async def _initialize(context: Context, *, scale_target_to_zero: bool) -> None:
    target = _target(context)
    namespace = context.canary.metadata.namespace
    if context.primary is None:
        target_revision = revision(target["spec"]["template"])
        if context.last_promoted_revision not in ("", target_revision):
            # The primary must only ever run an analysed template, and the target holds an
            # unanalysed one: recreating the primary from it would promote it silently.
            raise CannotActError(
                "the primary Deployment is missing and the target no longer runs the last "
                f"promoted revision {context.last_promoted_revision}; restore the target to it "
                "or recreate the Canary"
            )
        await apply_deployment(
            context.api, primary_from_target(target, owner=context.owner, revision=target_revision)
        )
    label = selector_label(target)
    service = context.canary.spec.service
    target_port = service.target_port
    await apply_services(
        context.api,
        ServiceSpec(
            name=context.canary.spec.service_name,
            port=service.port,
            port_name=service.port_name,
            target_port=target_port,
            app_protocol=service.app_protocol,
        ),
        selector_label=label.key,
        selector_value=label.value,
        owner=context.owner,
    )
    await context.router.reconcile(context.route)
    if scale_target_to_zero and (target.get("spec") or {}).get("replicas") != 0:
        await scale_deployment(
            context.api, target["metadata"]["name"], namespace=namespace, replicas=0
        )


async def _scale_canary(context: Context, *, up: bool) -> None:
    target = _target(context)
    replicas = replicas_to_scale_up(target, primary=context.primary) if up else 0
    if (target.get("spec") or {}).get("replicas") != replicas:
        await scale_deployment(
            context.api,
            target["metadata"]["name"],
            namespace=context.canary.metadata.namespace,
            replicas=replicas,
        )


async def _promote(context: Context, wanted: str) -> None:
    namespace = context.canary.metadata.namespace
    target = await read_deployment(
        context.api, context.canary.spec.target_ref.name, namespace=namespace
    )
    if target is None:
        raise CannotActError("target Deployment disappeared before promotion")
    current = revision(target["spec"]["template"])
    if current != wanted:
        # A newer revision arrived after the checks passed: never promote what was not analysed.
        raise CannotActError(
            f"target changed to revision {current} before revision {wanted} was promoted"
        )
    manifest = primary_deployment(
        target,
        template=target["spec"]["template"],
        owner=context.owner,
        revision=wanted,
        manage_replicas=context.canary.spec.autoscaler_ref is None,
    )
    if context.primary is not None:
        # Keep the primary's replica count: the target runs as the canary at its own scale.
        replicas = (context.primary.get("spec") or {}).get("replicas")
        if isinstance(replicas, int) and replicas > 0 and "replicas" in manifest["spec"]:
            manifest["spec"]["replicas"] = replicas
    await apply_deployment(context.api, manifest)
