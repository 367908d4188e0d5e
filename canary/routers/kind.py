"""`RouterKind`: one provider's router and what it can do, as the registry lists it.

Apart from `registry.py` so that a router module can export its own `ROUTER = RouterKind(...)`
and the registry import it (the registry imports every router module; a router module importing
the registry would be circular). Shapes only: this module must not know any router.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from canary.kube.client import ApiClient
from canary.kube.resources import Reader, ResourceKind
from canary.routers.base import Router, RouteRef
from canary.routers.settings import RouteSettings

Build = Callable[[ApiClient, Reader | None, RouteSettings], Router]
# Hands the traffic back before the Canary is deleted (revertOnDeletion); says what it did.
Release = Callable[[ApiClient, RouteRef], Awaitable[str]]
# Raises ValueError naming the field when the settings cannot be routed (what `build` refuses),
# without a client: `canary check` and the controller's support check call it.
Validate = Callable[[RouteSettings], object]


@dataclass(frozen=True)
class RouterKind:
    """One provider's router and what it can do.

    `route` is the kind of the object it writes named after the apex Service (claimed by the
    Canary, so no other Canary may write it), None when the Services are the route. `applies`
    lists the provider-specific fields (by path: `spec.service.trafficPolicy`) it honours; any
    other such field is reported as ignored. `release` hands the route back before the Canary
    is deleted; without one, the route object (if the Canary's) is deleted. `validate` refuses
    the settings `build` would refuse, offline. `generic` lists the route settings of GENERIC
    it applies.
    """

    build: Build
    route: ResourceKind | None
    applies: frozenset[str] = frozenset()
    can_match: bool = False  # A/B testing (analysis.match)
    match_query_params: bool = True  # ...including query parameters, not only headers
    match_source_labels: bool = False  # ...and the calling pods' labels (`sourceLabels`)
    can_mirror: bool = False  # analysis.mirror
    sticky: bool = False  # analysis.sessionAffinity
    progressive: bool = True  # weights in steps; False: all traffic switches at once
    release: Release | None = None
    validate: Validate | None = None
    # The route settings of `spec.service` it applies, of GENERIC (the others are unused, and
    # the Canary is warned: Flagger ignores them too).
    generic: frozenset[str] = frozenset()


# Route settings of `spec.service` that more than one provider applies, by path.
GENERIC: Final = (
    "spec.service.timeout",
    "spec.service.headers",
    "spec.service.hosts",
    "spec.service.gatewayRefs",
)
