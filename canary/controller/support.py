"""Fields this controller accepts in the API but cannot act on, alone or with the chosen router,
and other providers' fields it ignores as Flagger does.

A release must never silently run without something its author asked for: a gate webhook that
is ignored would let an unapproved release through, and an A/B test whose matches the router
cannot express would send everyone to the canary. So a Canary that asks for such a thing is not
released at all; it gets `Ready=False, reason=Unsupported` naming the fields.

A field of another provider that Flagger itself ignores with this Canary's provider
(`service.trafficPolicy` with linkerd) does not stop the release: `fields_honored` gives the
`FieldsHonored=False` condition (reason `IgnoredFields`) naming them, and `ignored_warnings` the
Warning event, once per distinct message. The condition is none of kstatus's (Ready, Stalled,
Reconciling), so it never makes the Canary read Failed or InProgress.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from canary.api.canary import Canary
from canary.api.foreign import ignored_fields, unapplied_fields
from canary.api.status import CanaryStatus
from canary.api.status import ConditionType as StatusConditionType
from canary.controller.routing import route_settings
from canary.core.conditions import Condition, ConditionStatus, ConditionType
from canary.kube.client import ApiClient
from canary.kube.resources import Reader
from canary.metrics.builtin import is_builtin, mesh_of
from canary.metrics.errors import MetricError
from canary.routers.base import Router
from canary.routers.kind import GENERIC
from canary.routers.registry import PROVIDERS, RouterKind, router_kind
from canary.routers.settings import RouteSettings


def unsupported_message(fields: list[str]) -> str:
    return (
        f"not supported: {'; '.join(fields)}; change or remove them to release with this "
        "controller (nothing is released while they are set)"
    )


def _able(can: Callable[[RouterKind], bool]) -> str:
    """The providers whose router `can` do something, for a message."""
    names = [name for name, kind in PROVIDERS.items() if can(kind)]
    return ", ".join(names)


def _no_router(_api: ApiClient, _read: Reader | None, settings: RouteSettings) -> Router:
    raise ValueError(f"unknown traffic provider {settings.provider!r}")


# What an unknown provider can do (it is refused anyway; the other findings are still named).
_NOTHING = RouterKind(build=_no_router, route=None, match_query_params=False)


def _beyond(kind: RouterKind, canary: Canary, provider: str) -> list[str]:
    """What the analysis asks of the router beyond its capabilities."""
    analysis = canary.spec.analysis
    found: list[str] = []
    if analysis.match and not kind.can_match:
        found.append(
            f"spec.analysis.match with provider {provider} (A/B testing needs one of "
            f"{_able(lambda k: k.can_match)})"
        )
    else:
        if not kind.match_query_params and any(m.query_params for m in analysis.match):
            found.append(
                f"spec.analysis.match[].queryParams with provider {provider} (headers only)"
            )
        if not kind.match_source_labels and any(m.source_labels for m in analysis.match):
            found.append(
                f"spec.analysis.match[].sourceLabels with provider {provider} (routing by the "
                f"calling pods' labels needs one of {_able(lambda k: k.match_source_labels)}; "
                "match on a header the callers send instead)"
            )
    if analysis.session_affinity is not None and not kind.sticky:
        found.append(
            f"spec.analysis.sessionAffinity with provider {provider} (sticky sessions need one "
            f"of {_able(lambda k: k.sticky)})"
        )
    if analysis.mirror and not kind.can_mirror:
        found.append(
            f"spec.analysis.mirror with provider {provider} (mirroring needs one of "
            f"{_able(lambda k: k.can_mirror)})"
        )
    return found


def unsupported_fields(canary: Canary, *, default_provider: str) -> list[str]:
    """What the Canary asks of its router that the router, or the strategy, cannot do."""
    provider = canary.spec.provider or default_provider
    analysis = canary.spec.analysis
    found = unapplied_fields(canary.spec.foreign, provider)
    try:
        kind = router_kind(provider)
    except ValueError as error:
        found.append(f"spec.provider: {error}")
        kind = _NOTHING
    found += _beyond(kind, canary, provider)
    for metric in analysis.metrics:
        if metric.query is None and metric.template_ref is None and is_builtin(metric.name):
            try:
                mesh_of(provider)
            except MetricError:
                found.append(
                    f"spec.analysis.metrics[{metric.name}] with provider {provider} (no builtin "
                    f"{metric.name} query for it: give the metric a templateRef)"
                )
    if not kind.progressive and analysis.iterations is None:
        found.append(
            f"spec.analysis.stepWeight(s) with provider {provider} (it switches all traffic at "
            "once: set analysis.iterations for blue/green)"
        )
    if kind.validate is not None and not found:  # the router's own refusals, if nothing else
        try:
            kind.validate(route_settings(canary, provider))
        except ValueError as error:
            found.append(str(error))
    return found


IGNORED_FIELDS = "IgnoredFields"


def _generic_fields(canary: Canary) -> list[str]:
    """The route settings of `spec.service` (GENERIC) the Canary sets."""
    service = canary.spec.service
    found = {
        "spec.service.timeout": service.timeout is not None,
        "spec.service.headers": service.headers is not None,
        "spec.service.hosts": bool(service.hosts),
        "spec.service.gatewayRefs": bool(service.gateway_refs),
    }
    return [path for path in GENERIC if found[path]]


def fields_honored(
    canary: Canary, *, default_provider: str
) -> dict[ConditionType, Condition | None]:
    """The `FieldsHonored` condition for the status: False naming the fields the provider
    ignores, absent (None) when there are none."""
    provider = canary.spec.provider or default_provider
    try:
        kind = router_kind(provider)
    except ValueError:
        kind = _NOTHING
    ignored = ignored_fields(canary.spec.foreign, provider, applied=kind.applies)
    ignored += [
        f"{path} is not applied by provider {provider}, as Flagger does not apply it"
        for path in _generic_fields(canary)
        if path not in kind.generic
    ]
    if not ignored:
        return {ConditionType.FIELDS_HONORED: None}
    message = "; ".join(ignored) + (
        " (the release goes on without it)"
        if len(ignored) == 1
        else " (the release goes on without them)"
    )
    condition = Condition(
        ConditionType.FIELDS_HONORED,
        ConditionStatus.FALSE,
        IGNORED_FIELDS,
        message,
        canary.metadata.generation,
    )
    return {ConditionType.FIELDS_HONORED: condition}


def ignored_warnings(
    previous: CanaryStatus, notes: Mapping[ConditionType, Condition | None]
) -> list[tuple[str, str]]:
    """The Warning event (reason, message) to record for ignored fields: one per distinct
    message, so fields that stay are not repeated on every cycle."""
    new = notes.get(ConditionType.FIELDS_HONORED)
    if new is None:
        return []
    old = previous.condition(StatusConditionType.FIELDS_HONORED)
    if old is not None and old.status == "False" and old.message == new.message:
        return []
    return [(new.reason, new.message)]
