"""Whose golden signals a view shows: the primary and the canary of one Canary, and the names
its provider's queries pick each of them by.

Read from the raw Canary object, defensively (a view must still show a Canary the models
refuse), with the names the controller renders its builtin queries with
(`canary.controller.convert.context_of`): `spec.service.name`, `spec.ingressRef.name`,
`spec.routeRef.name`, and for a Knative target the Revisions (the one under analysis is the
canary's, the promoted one the primary's). Pure: no I/O, no queries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from canary.api.canary import KNATIVE_KIND
from canary.metrics.inputs import DEFAULT_PROVIDER, CanaryContext
from canary.targets.deployment import primary_name

Side = Literal["primary", "canary"]
SIDES: tuple[Side, ...] = ("primary", "canary")
PROVIDER_ENV = "CANARY_PROVIDER"  # the controller's default provider, as the views assume it


@dataclass(frozen=True)
class Workloads:
    """The primary and canary workloads of one Canary, and the names its queries use."""

    namespace: str
    primary: str
    canary: str
    provider: str
    name: str = ""  # the Canary's (the canary workload's when not given)
    service: str | None = None  # the apex Service (`spec.service.name`)
    ingress: str | None = None  # `spec.ingressRef.name`
    route: str | None = None  # `spec.routeRef.name`; a Knative target: the analysed Revision
    primary_route: str | None = None  # a Knative target: the promoted Revision
    target_kind: str = "Deployment"

    def context(self, side: Side) -> CanaryContext:
        """The names a query renders with to select `side`'s own series, where the target's
        name (`{{ target }}`) or a Knative Revision (`{{ route }}`) tells the two apart; the
        canary's are the Canary's own, as the controller renders its checks."""
        primary = side == "primary"
        return CanaryContext(
            name=self.name or self.canary,
            namespace=self.namespace,
            target=self.primary if primary else self.canary,  # matched with =~, as the checks
            service=self.service,
            ingress=self.ingress,
            route=self.primary_route if primary and self.primary_route else self.route,
            provider=self.provider,
            target_kind=self.target_kind,
        )


def workloads_of(canary: Mapping[str, Any]) -> Workloads:
    """The workloads of the Canary object `canary`, as read from the API server."""
    metadata, spec, status = (_map(canary.get(key)) for key in ("metadata", "spec", "status"))
    target_ref = _map(spec.get("targetRef"))
    target = str(target_ref.get("name") or "")
    kind = str(target_ref.get("kind") or "Deployment")
    knative = kind == KNATIVE_KIND
    applied = str(status.get("lastAppliedSpec") or "") or None  # a Knative target: Revisions
    promoted = str(status.get("lastPromotedSpec") or "") or None
    return Workloads(
        namespace=str(metadata.get("namespace") or ""),
        primary=primary_name(target),
        canary=target,
        provider=str(spec.get("provider") or os.environ.get(PROVIDER_ENV) or DEFAULT_PROVIDER),
        name=str(metadata.get("name") or ""),
        service=None if knative else _name_of(spec.get("service")),
        ingress=_name_of(spec.get("ingressRef")),
        route=_name_of(spec.get("routeRef")) or (applied if knative else None),
        primary_route=promoted if knative else None,
        target_kind=kind,
    )


def _name_of(value: Any) -> str | None:
    name = value.get("name") if isinstance(value, Mapping) else None
    return name if isinstance(name, str) and name else None


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
