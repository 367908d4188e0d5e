"""The one protocol every traffic router implements, and the plain description of a route.

The controller drives any mesh or ingress through these three calls; each is idempotent and
absolute ("set 70/30", never "+10"), so a cycle that crashed halfway is repaired by the next.
This module defines shapes only: it must not know any particular router.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, Protocol

from canary.kube.resources import CanaryRef

PRIMARY_SUFFIX: Final = "-primary"
CANARY_SUFFIX: Final = "-canary"

# Objects a router generates are the controller's, not the GitOps repository's: Flux must not
# prune or revert them (Flagger adds the same two annotations to every router object).
GITOPS_OPT_OUT: Final[Mapping[str, str]] = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}


# On a route object that cannot carry the Canary's owner reference (a cluster-scoped one, such
# as Kuma's TrafficRoute): `<namespace>/<name>` of the Canary that holds it.
HOLDER_ANNOTATION: Final = "canary.dev/canary"


class RouteError(ValueError):
    """The route object exists but cannot be read as a primary/canary split (it is malformed)."""


@dataclass(frozen=True)
class RouteRef:
    """The route of one Canary: its apex Service (clients' address) and the two backends.

    `owner` is None when the route must carry no owner reference (the mesh's API server is not
    the one that holds the Canary, so garbage collection could not work across them).
    """

    namespace: str
    apex: str
    owner: CanaryRef | None

    @property
    def primary_service(self) -> str:
        return f"{self.apex}{PRIMARY_SUFFIX}"

    @property
    def canary_service(self) -> str:
        return f"{self.apex}{CANARY_SUFFIX}"


def route_holder(route: RouteRef) -> str:
    """The `HOLDER_ANNOTATION` value of the Canary whose route `route` is."""
    name = route.owner.name if route.owner is not None else route.apex
    return f"{route.namespace}/{name}"


def holder_of(obj: Mapping[str, Any] | None) -> str | None:
    """Who holds the route object `obj` by `HOLDER_ANNOTATION`; None when it names nobody."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    holder = annotations.get(HOLDER_ANNOTATION)
    return holder if isinstance(holder, str) and holder else None


class Router(Protocol):
    """Splits the apex Service's traffic between the primary and the canary."""

    async def reconcile(self, route: RouteRef) -> None:
        """Create the route object at 100/0 if absent, repair it if malformed; keep the weights."""

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        """Route `primary`% to the primary and `canary`% to the canary (they sum to 100); with
        `mirror`, also copy the requests to the canary (ValueError where the router cannot)."""

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        """(primary, canary) in percent; None when the route object does not exist."""


def route_metadata(route: RouteRef) -> dict[str, Any]:
    """The metadata of a route object a router writes: named after the apex Service, in its
    namespace, opted out of GitOps reconciliation, owned by the Canary when it can be."""
    metadata: dict[str, Any] = {
        "name": route.apex,
        "namespace": route.namespace,
        "annotations": dict(GITOPS_OPT_OUT),
    }
    if route.owner is not None:
        metadata["ownerReferences"] = [route.owner.owner_reference()]
    return metadata


def as_percentages(primary: Decimal, canary: Decimal) -> tuple[int, int]:
    """Two backend weights in any units as whole percentages of their (positive) sum, rounded
    half up on the primary's side so the two always add up to 100."""
    primary_percent = int((100 * primary / (primary + canary)).quantize(0, ROUND_HALF_UP))
    return primary_percent, 100 - primary_percent


def kept_weights(
    existing: Mapping[str, Any] | None,
    weights_of: Callable[[Mapping[str, Any]], tuple[int, int]],
) -> tuple[int, int]:
    """The (primary, canary) weights the route object `existing` carries, read by `weights_of`;
    100/0 (everything to the primary, the safe side) when it is absent or malformed, so that
    reconciling repairs a route that no longer splits between the two Services."""
    if existing is None:
        return (100, 0)
    try:
        return weights_of(existing)
    except RouteError:
        return (100, 0)
