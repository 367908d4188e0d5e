"""`spec.revertOnDeletion`: keep the finalizer, and on deletion hand the traffic back to the target.

A Canary with `revertOnDeletion: true` carries the finalizer `canary.dev/finalizer`. When it is
deleted, each cycle moves the revert on by what is still missing, every step absolute, so a cycle
that fails (an API error, a restart) is simply repeated by the next:

1. Phase `Terminating` (status) and a `Terminating` event.
2. The target serves again: scaled to the primary's replicas and, when it holds a template that
   was never promoted, given the primary's template back (see `canary.targets.revert`).
3. Wait until the target is ready, at most `progressDeadlineSeconds` from the start of the
   revert (the persisted `phaseSince` of Terminating): then a Warning event, and the revert goes
   on regardless. A deletion is never blocked for good.
4. The apex Service selects the target's pods and is kept beyond the Canary; the route object
   stops sending to the primary (see `canary.routers.release`).
5. The finalizer is removed; garbage collection then deletes the primary, the `-primary` and
   `-canary` Services and the route object.

A Canary being deleted without this finalizer is left alone (its objects go with it, the target
stays as it is). A target that is gone or being deleted, or a namespace being deleted, has
nothing to revert to: the finalizer is removed at once (in a namespace being deleted, after
deleting a cluster-scoped route object, which garbage collection never would). Setting
`revertOnDeletion` to false while the Canary waits removes the finalizer without reverting. The
deletion waits for a running controller; without one, `kubectl patch canary NAME --type=merge
-p '{"metadata":{"finalizers":null}}'` lets it go. This module must not decide releases: it runs
instead of the release cycle once a Canary is being deleted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final

import structlog

from canary.controller.deletion import (
    FINALIZER,
    RevertSpec,
    finalizer_patch,
    finalizers,
    ready_deadline,
    revert_spec,
    terminating_status,
    wants_revert,
)
from canary.controller.orphans import cluster_scoped_route
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.errors import Forbidden, NotFound
from canary.kube.events import record_event
from canary.kube.resources import CANARY, CanaryRef
from canary.routers.base import RouteRef
from canary.routers.release import release_apex, release_route
from canary.targets.autoscaler_apply import resume_scaled_object
from canary.targets.configs import config_refs
from canary.targets.deployment import (
    PRIMARY_SUFFIX,
    TargetError,
    primary_name,
    selector_label,
)
from canary.targets.revert import revert_patch
from canary.targets.workload import workload_of

log = structlog.get_logger(__name__)

WAIT: Final = 1.0  # seconds between cycles while the target becomes ready (its watch wakes sooner)
DONE: Final = 60.0  # nothing more to do; the Canary's deletion removes it from the scheduler

NAMESPACE: Final = resources.resource_kind("v1", "Namespace")

Remember = Callable[[dict[str, Any]], None]  # keeps an object this controller just wrote


async def sync_finalizer(
    api: ApiClient, raw: dict[str, Any], *, remember: Remember
) -> dict[str, Any]:
    """The Canary with the finalizer added or removed as `revertOnDeletion` asks."""
    patch = finalizer_patch(raw, keep=wants_revert(raw))
    if patch is None:
        return raw
    metadata = raw["metadata"]
    written = await resources.merge_patch(
        api, CANARY, metadata["name"], namespace=metadata["namespace"], patch=patch
    )
    remember(written)
    log.info("finalizer_changed", present=FINALIZER in finalizers(written))
    return written


async def finalize(  # noqa: PLR0913 - keyword-only: how to revert, and whether to
    api: ApiClient,
    raw: dict[str, Any],
    *,
    default_provider: str,
    now: datetime,
    remember: Remember,
    held_elsewhere: str | None = None,
) -> float:
    """One cycle of a Canary being deleted; the seconds until the next one is needed.

    `held_elsewhere` says why the Canary never held its objects (another Canary does, see
    `canary.controller.ownership`): then nothing is reverted, since the target, the Services and
    the route are that other Canary's to serve with.
    """
    if FINALIZER not in finalizers(raw):
        return DONE
    if not wants_revert(raw):
        await _remove_finalizer(
            api,
            raw,
            remember=remember,
            message="revertOnDeletion is false: removing the finalizer without reverting",
        )
        return DONE
    raw = await _mark_terminating(api, raw, now=now, remember=remember)
    spec = revert_spec(raw, default_provider=default_provider)
    if held_elsewhere is not None:
        await _event(api, raw, "RevertSkipped", f"nothing to revert: {held_elsewhere}")
    elif spec is None:
        await _event(api, raw, "RevertSkipped", "the spec names no target Deployment", warning=True)
    elif not await _revert_of(spec.target_kind)(api, raw, spec, now=now):
        return WAIT
    await _remove_finalizer(
        api,
        raw,
        remember=remember,
        message="reverted; removing the finalizer (the primary and generated objects go too)",
    )
    return DONE


async def _event(
    api: ApiClient, raw: dict[str, Any], reason: str, message: str, *, warning: bool = False
) -> None:
    log.info("canary_event", reason=reason, message=message, warning=warning)
    await record_event(api, raw, reason=reason, message=message, warning=warning)


async def _mark_terminating(
    api: ApiClient, raw: dict[str, Any], *, now: datetime, remember: Remember
) -> dict[str, Any]:
    status = terminating_status(raw, now=now)
    if status is None:
        return raw
    written = await resources.replace_status(api, CANARY, {**raw, "status": status})
    remember(written)
    await _event(api, raw, "Terminating", "Canary deleted: reverting its target before it goes")
    return written


async def _remove_finalizer(
    api: ApiClient, raw: dict[str, Any], *, remember: Remember, message: str
) -> None:
    patch = finalizer_patch(raw, keep=False)
    if patch is None:
        return
    # Recorded first: once the finalizer is gone, the Canary's deletion ends this cycle's task.
    await _event(api, raw, "Terminated", message)
    metadata = raw["metadata"]
    try:
        written = await resources.merge_patch(
            api, CANARY, metadata["name"], namespace=metadata["namespace"], patch=patch
        )
    except NotFound:
        return
    remember(written)


def _being_deleted(obj: Mapping[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


async def _config_copies(api: ApiClient, primary: Mapping[str, Any], spec: RevertSpec) -> set[str]:
    """The keys (`configmap/<name>`) of the configs the primary uses through this Canary's
    `<name>-primary` copies: only an object the Canary owns is a copy, whatever its name."""
    template = (primary.get("spec") or {}).get("template") or {}
    found: set[str] = set()
    for ref in config_refs(template):
        original = ref.name.removesuffix(PRIMARY_SUFFIX)
        if original == ref.name:
            continue
        kind = resources.resource_kind("v1", ref.api_kind)
        obj = await resources.get(api, kind, ref.name, namespace=spec.namespace)
        owners = ((obj or {}).get("metadata") or {}).get("ownerReferences") or []
        if any(owner.get("uid") == spec.uid for owner in owners):
            found.add(f"{ref.kind}/{original}")
    return found


async def _namespace_deleted(api: ApiClient, namespace: str) -> bool:
    """Whether the Canary goes with its namespace: no pod could start there any more, so waiting
    for the target would only hold the namespace's deletion up. Unknown (not allowed to read
    namespaces) counts as no."""
    try:
        found = await resources.get(api, NAMESPACE, namespace, namespace=None)
    except Forbidden:
        return False
    return found is not None and _being_deleted(found)


async def _namespace_goes(api: ApiClient, raw: dict[str, Any], spec: RevertSpec) -> bool:
    """Nothing to revert to in a namespace being deleted, and its objects go with it; but not a
    cluster-scoped route object (Kuma's TrafficRoute), which no garbage collection deletes with a
    namespaced Canary: that one is released (deleted) here. True: the revert is over."""
    done = f"namespace {spec.namespace} is being deleted"
    if cluster_scoped_route(spec.provider) is not None:
        released = await release_route(api, _route_ref(spec), provider=spec.provider)
        if released:
            done += f"; {released}"
    await _event(api, raw, "RevertSkipped", done)
    return True


_Revert = Callable[..., Awaitable[bool]]


def _revert_of(target_kind: str) -> _Revert:
    """How a target of `target_kind` is reverted: a target that holds its primary itself (a
    Knative Service) has only its route to hand back."""
    try:
        copies = workload_of(target_kind).copies
    except TargetError:
        copies = True
    return _revert if copies else _release_only


async def _release_only(
    api: ApiClient,
    raw: dict[str, Any],
    spec: RevertSpec,
    *,
    now: datetime,  # noqa: ARG001 - nothing to wait for
) -> bool:
    if await _namespace_deleted(api, spec.namespace):
        return await _namespace_goes(api, raw, spec)
    released = await release_route(api, _route_ref(spec), provider=spec.provider)
    if released:
        await _event(api, raw, "TrafficReverted", released)
    return True


async def _revert(api: ApiClient, raw: dict[str, Any], spec: RevertSpec, *, now: datetime) -> bool:
    """One step of the revert; True once the traffic is on the target (or cannot be)."""
    if await _namespace_deleted(api, spec.namespace):
        return await _namespace_goes(api, raw, spec)
    workload = workload_of(spec.target_kind)
    target = await resources.get(api, workload.resource, spec.target, namespace=spec.namespace)
    where = f"{workload.noun} {spec.namespace}/{spec.target}"
    if target is None or _being_deleted(target):
        await _event(
            api, raw, "RevertSkipped", f"{where} is gone: nothing to revert to", warning=True
        )
        return True
    primary = await resources.get(
        api, workload.resource, primary_name(spec.target), namespace=spec.namespace
    )
    copies = await _config_copies(api, primary, spec) if primary is not None else set()
    if spec.scaled_object and await resume_scaled_object(
        api, spec.scaled_object, namespace=spec.namespace
    ):
        await _event(
            api, raw, "ScalerResumed", f"ScaledObject {spec.scaled_object} scales {where} again"
        )
    try:
        label = selector_label(target)
        change = revert_patch(
            target, primary=primary, copies=copies, replicated=workload.replicated
        )
    except TargetError as error:
        await _event(api, raw, "RevertSkipped", str(error), warning=True)
        return True
    if change is not None:
        await resources.merge_patch(
            api, workload.resource, spec.target, namespace=spec.namespace, patch=change.patch
        )
        if change.restored_revision:
            await _event(
                api,
                raw,
                "TemplateRestored",
                f"{where} held a template that was never promoted ({change.replaced_images}): "
                f"it runs the primary's revision {change.restored_revision} again (apply your "
                "manifest again to release the other one without a canary)",
                warning=True,
            )
        if change.replicas is not None:
            await _event(api, raw, "TargetScaled", f"{where} scaled to {change.replicas}")
        if change.unparked:
            await _event(api, raw, "TargetScaled", f"{where} runs on its nodes again")
        return False  # judged on the next cycle, from a fresh read
    if not await _target_ready(api, raw, spec, target, now=now):
        return False
    route = _route_ref(spec)
    done = []
    if await release_apex(api, route, selector={label.key: label.value}):
        done.append(f"Service {spec.apex} selects the pods of {where} and is kept")
    released = await release_route(api, route, provider=spec.provider)
    if released:
        done.append(released)
    if done:
        await _event(api, raw, "TrafficReverted", "; ".join(done))
    return True


def _route_ref(spec: RevertSpec) -> RouteRef:
    return RouteRef(
        namespace=spec.namespace,
        apex=spec.apex,
        owner=CanaryRef(name=spec.name, namespace=spec.namespace, uid=spec.uid),
    )


async def _target_ready(
    api: ApiClient,
    raw: dict[str, Any],
    spec: RevertSpec,
    target: Mapping[str, Any],
    *,
    now: datetime,
) -> bool:
    """Whether to go on: the target is ready, or the wait for it has run out (with a warning)."""
    readiness = workload_of(spec.target_kind).readiness(
        target, progress_deadline_seconds=spec.progress_deadline_seconds, now=now
    )
    if readiness.ready:
        return True
    deadline = ready_deadline(raw, spec)
    if deadline is not None and now < deadline:
        log.info("revert_waiting_for_target", message=readiness.message)
        return False
    await _event(
        api,
        raw,
        "TargetNotReady",
        f"{readiness.message}; still not ready {spec.progress_deadline_seconds} s "
        "(progressDeadlineSeconds) into the revert: traffic goes to it anyway",
        warning=True,
    )
    return True
