"""Translate between the API's models and the plain inputs of the core and the metrics checks.

The API (pydantic, camelCase on the wire) is what users write; the core and the checks work on
frozen dataclasses. This module is the only place that knows both, so neither side depends on
the other's representation. It must not perform I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from canary.api.canary import KNATIVE_KIND, Canary, CustomMetadata
from canary.api.durations import parse_duration
from canary.api.metrictemplate import MetricTemplate
from canary.api.status import CanaryStatus
from canary.core.conditions import (
    PHASE_CONDITIONS,
    Condition,
    ConditionType,
    conditions,
    transition_time,
)
from canary.core.model import CanaryState, CheckResult, Phase, Policy, Verdict
from canary.core.transitions import Reason
from canary.metrics.inputs import CanaryContext, MetricSpec
from canary.routers.kubernetes import ServiceMetadata, ServiceSpec


def policy_of(canary: Canary, *, min_interval: float) -> Policy:
    """The core's policy for `canary`; intervals below `min_interval` are raised to it."""
    spec, analysis = canary.spec, canary.spec.analysis
    return Policy(
        interval=max(min_interval, parse_duration(analysis.interval)),
        threshold=analysis.threshold,
        max_weight=analysis.max_weight or 100,
        step_weight=analysis.step_weight or 0,
        step_weights=tuple(analysis.step_weights or ()),
        step_weight_promotion=analysis.step_weight_promotion or 0,
        iterations=analysis.iterations or 0,
        progress_deadline=float(spec.progress_deadline_seconds),
        skip_analysis=spec.skip_analysis,
        suspend=spec.suspend,
        ab_testing=bool(analysis.match),
        mirror=analysis.mirror,
    )


# The core's hold reasons (`CanaryState.hold_reason`) by phase: a `Ready` condition with one of
# them is the core's, like one whose reason is the phase.
_HOLD_REASONS: Mapping[Phase, tuple[str, ...]] = {Phase.INITIALIZING: (Reason.PRIMARY_NOT_READY,)}


def state_of(status: CanaryStatus) -> CanaryState:
    """The core's state from the stored status (a new Canary's empty status: Initializing).

    The message is the `Ready` condition's only while that condition is about the phase: a
    message the shell wrote (an invalid spec, a failing cycle) is not the core's to carry on."""
    phase = status.phase if status.phase is not None else Phase.INITIALIZING
    holds = {phase.value, *_HOLD_REASONS.get(phase, ())}
    ready = next((c for c in status.conditions if c.type == "Ready" and c.reason in holds), None)
    hold_reason = ready.reason if ready is not None and ready.reason != phase.value else ""
    stalled = bool(hold_reason) and any(
        c.type == "Stalled" and c.status == "True" and c.reason == hold_reason
        for c in status.conditions
    )
    return CanaryState(
        phase=phase,
        canary_weight=status.canary_weight,
        failed_checks=status.failed_checks,
        iterations=status.iterations,
        last_applied_revision=status.last_applied_spec,
        last_promoted_revision=status.last_promoted_spec,
        phase_since=status.phase_since,
        last_step_at=status.last_step_time,
        message=ready.message if ready is not None else "",
        hold_reason=hold_reason,
        stalled=stalled,
        checks=tuple(
            CheckResult(
                name=check.name,
                verdict=Verdict(check.verdict),
                value=check.value,
                message=check.message,
                min=check.min,
                max=check.max,
            )
            for check in status.checks
        ),
    )


def status_of(  # noqa: PLR0913 - keyword-only: what the status is computed from
    state: CanaryState,
    *,
    previous: CanaryStatus,
    generation: int,
    now: datetime,
    checked_at: datetime | None,
    tracked_configs: Mapping[str, str] | None = None,
    notes: Mapping[ConditionType, Condition | None] | None = None,
) -> dict[str, Any]:
    """The whole status manifest for `state`, keeping timestamps of what did not change (and
    the tracked configs, unless `tracked_configs` says what they are now).

    The phase decides `Ready`, `Promoted`, `Reconciling` and `Stalled`; the shell's own
    conditions (`AlertsReady`) are kept as they were unless `notes` says what they are now
    (None: remove it)."""
    old = [c.to_manifest() for c in previous.conditions]
    changed = state.phase.value != (previous.phase.value if previous.phase else None)
    check_times = {c.name: c.time for c in previous.checks}
    status = CanaryStatus(
        observed_generation=generation,
        phase=state.phase,
        canary_weight=state.canary_weight,
        failed_checks=state.failed_checks,
        iterations=state.iterations,
        last_applied_spec=state.last_applied_revision,
        last_promoted_spec=state.last_promoted_revision,
        last_transition_time=now
        if changed or previous.last_transition_time is None
        else previous.last_transition_time,
        last_step_time=state.last_step_at,
        phase_since=state.phase_since,
        tracked_configs=previous.tracked_configs
        if tracked_configs is None
        else dict(tracked_configs),
        conditions=[
            *condition_manifests(conditions(state, generation), previous=old, now=now),
            *_shell_kept(previous, notes or {}),
            *condition_manifests(
                (note for note in (notes or {}).values() if note is not None),
                previous=old,
                now=now,
            ),
        ],
        checks=[
            {
                "name": check.name,
                "value": check.value,
                "verdict": check.verdict.value,
                "message": check.message,
                "min": check.min,
                "max": check.max,
                "time": checked_at or check_times.get(check.name) or now,
            }
            for check in state.checks
        ],
    )
    return status.to_manifest()


def condition_manifests(
    new: Iterable[Condition], *, previous: Iterable[Mapping[str, Any]], now: datetime
) -> list[dict[str, Any]]:
    """`new` as the status's condition entries; each keeps its previous lastTransitionTime
    while its status stays the same (`previous`: the stored entries, as on the wire)."""
    old = {str(c.get("type")): c for c in previous}
    entries = []
    for condition in new:
        before = old.get(condition.type.value) or {}
        entries.append(
            {
                "type": condition.type.value,
                "status": condition.status.value,
                "reason": condition.reason,
                "message": condition.message,
                "observedGeneration": condition.observed_generation,
                "lastTransitionTime": transition_time(
                    previous_status=before.get("status"),
                    previous_time=_timestamp(before.get("lastTransitionTime")),
                    status=condition.status.value,
                    now=now,
                ),
            }
        )
    return entries


def _shell_kept(
    previous: CanaryStatus, notes: Mapping[ConditionType, Condition | None]
) -> list[dict[str, Any]]:
    """The previous status's own conditions of the shell that `notes` does not replace."""
    decided = {t.value for t in PHASE_CONDITIONS} | {t.value for t in notes}
    return [c.to_manifest() for c in previous.conditions if c.type not in decided]


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def context_of(canary: Canary, *, default_provider: str) -> CanaryContext:
    """The names a metric query may refer to for `canary`: as Flagger, `ingress` and `route`
    are `spec.ingressRef`'s and `spec.routeRef`'s names (the target's without them). For a
    Knative target, `route` without a routeRef is the Revision under analysis (its revision is
    a Revision's name): what Flagger's Knative queries select, `<namespace>/<revision>` being
    the Envoy cluster of one Revision (Flagger renders the target's name there, which names no
    cluster, so its Knative builtins find no data)."""
    fields = canary.spec.provider_fields
    route = _ref_name(fields.get("spec.routeRef"))
    if route is None and canary.spec.target_ref.kind == KNATIVE_KIND:
        route = canary.status.last_applied_spec or None
    return CanaryContext(
        name=canary.metadata.name,
        namespace=canary.metadata.namespace,
        target=canary.spec.target_ref.name,
        service=canary.spec.service_name,
        ingress=_ref_name(fields.get("spec.ingressRef")),
        route=route,
        provider=canary.spec.provider or default_provider,
        target_kind=canary.spec.target_ref.kind,
    )


def _ref_name(ref: Any) -> str | None:
    """The `name` of a reference as written, None when it has none."""
    name = ref.get("name") if isinstance(ref, Mapping) else None
    return name if isinstance(name, str) and name else None


def metric_specs(
    canary: Canary, templates: dict[tuple[str, str], MetricTemplate]
) -> list[MetricSpec]:
    """Every metric of `canary`, with its MetricTemplate's query; `templates` is keyed by
    (namespace, name). A missing template gives a spec whose query says so when run."""
    specs = []
    for metric in canary.spec.analysis.metrics:
        template_query = None
        if metric.template_ref is not None:
            key = (
                metric.template_ref.namespace or canary.metadata.namespace,
                metric.template_ref.name,
            )
            template = templates.get(key)
            template_query = template.spec.query if template is not None else None
        low, high = metric.bounds  # thresholdRange, else Flagger's threshold
        specs.append(
            MetricSpec(
                name=metric.name,
                interval=metric.interval,
                min=low,
                max=high,
                query=metric.query,
                template_query=template_query,
                template_variables=dict(metric.template_variables),
            )
        )
    return specs


def service_spec(canary: Canary) -> ServiceSpec:
    """What the generated Services are made of: `spec.service`, with the labels and annotations
    of `service.apex`, `.primary` and `.canary` (ports found by portDiscovery are added by the
    caller, which has the target)."""
    service = canary.spec.service

    def metadata(custom: CustomMetadata | None) -> ServiceMetadata:
        if custom is None:
            return ServiceMetadata()
        return ServiceMetadata(labels=dict(custom.labels), annotations=dict(custom.annotations))

    return ServiceSpec(
        name=canary.spec.service_name,
        port=service.port,
        port_name=service.port_name,
        target_port=service.target_port,
        app_protocol=service.app_protocol,
        apex=metadata(service.apex),
        primary=metadata(service.primary),
        canary=metadata(service.canary),
    )
