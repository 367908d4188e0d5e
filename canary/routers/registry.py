"""Provider name -> router: the explicit registry behind the Canary's `provider` field.

Names follow Flagger's `-mesh-provider`/`spec.provider` so manifests move over unchanged. An
unknown name is an error that lists the known ones, never a silent fallback (Flagger falls back
to Istio). `linkerd` means SMI v1alpha2, not Flagger's v1alpha1: v1alpha2 is the storage version
of the linkerd-smi extension's CRD (and of the sandbox's), its weights are plain integers, and a
v1alpha1 object with quantity-string weights read back as v1alpha2 (the CRDs convert by
relabelling only) would carry strings where readers expect integers. `smi:v1alpha1` ..
`smi:v1alpha4` choose a version explicitly; Flagger's `smi:<version>:<mesh>` form is accepted
(the mesh part names the metrics, not the route). `gatewayapi:v1` and `gatewayapi:v1beta1` route
with an HTTPRoute of that version, which needs `GatewaySettings` (port, parents, hostnames) that
the route's `RouteRef` does not carry. `kubernetes` is blue/green with plain Services: the apex
Service's selector is the route. This module only maps names; it must not build objects.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from canary.api.analysis import MatchRequest
from canary.kube.client import ApiClient
from canary.kube.resources import Reader
from canary.routers.base import Router
from canary.routers.bluegreen import ServiceRouter
from canary.routers.gatewayapi import GatewayApiRouter, GatewaySettings, GatewayVersion
from canary.routers.smi import SmiRouter, SmiVersion

_NAMED: Final[Mapping[str, SmiVersion]] = {
    "linkerd": SmiVersion.V1ALPHA2,
    "osm": SmiVersion.V1ALPHA2,  # as Flagger: Open Service Mesh serves TrafficSplit v1alpha2
    **{f"smi:{version.value}": version for version in SmiVersion},
}
_GATEWAY: Final[Mapping[str, GatewayVersion]] = {
    f"gatewayapi:{version.value}": version for version in GatewayVersion
}

KUBERNETES: Final = "kubernetes"
KNOWN_PROVIDERS: Final = (*_NAMED, *_GATEWAY, KUBERNETES)


def _unknown(provider: str) -> ValueError:
    known = ", ".join(KNOWN_PROVIDERS)
    return ValueError(
        f"unknown traffic provider {provider!r}; known providers: {known} "
        "(smi:<version>:<mesh> is accepted too)"
    )


def smi_version(provider: str) -> SmiVersion:
    """The SMI version `provider` routes with; ValueError naming it and the known ones."""
    if provider in _GATEWAY:
        raise ValueError(f"traffic provider {provider!r} routes with an HTTPRoute, not SMI")
    if provider == KUBERNETES:
        raise ValueError(f"traffic provider {provider!r} routes with Services, not SMI")
    name = provider
    if name.startswith("smi:"):
        version, separator, mesh = name.removeprefix("smi:").partition(":")
        if mesh or not separator:  # "smi:v1alpha2:linkerd" or "smi:v1alpha2", not "smi:v1alpha2:"
            name = f"smi:{version}"
    try:
        return _NAMED[name]
    except KeyError:
        raise _unknown(provider) from None


def gateway_version(provider: str) -> GatewayVersion | None:
    """The HTTPRoute version `provider` routes with; None for a provider that is not Gateway API."""
    return _GATEWAY.get(provider)


def router_for(
    provider: str,
    api: ApiClient,
    *,
    read: Reader | None = None,
    gateway: GatewaySettings | None = None,
    matches: Sequence[MatchRequest] = (),
) -> Router:
    """The router for `provider`, writing through `api` and reading through `read` (the API
    server when not given; the controller passes its watch caches).

    A Gateway API provider needs `gateway` (the Services' port, the route's parents and
    hostnames, and its A/B matches); asking for one without it is a ValueError. An SMI router
    applies `matches` (A/B, v1alpha3 and v1alpha4 only; ValueError otherwise). The kubernetes
    router cannot match requests: `matches` with it is a ValueError.
    """
    if provider == KUBERNETES:
        if matches:
            raise ValueError(
                "the kubernetes provider cannot route requests by match (analysis.match); "
                "use gatewayapi:v1 or smi:v1alpha3/v1alpha4 for A/B testing"
            )
        return ServiceRouter(api, read=read)
    version = gateway_version(provider)
    if version is None:
        return SmiRouter(api, smi_version(provider), read=read, matches=matches)
    if gateway is None:
        raise ValueError(
            f"traffic provider {provider!r} needs Gateway API settings (the Services' port, "
            "parentRefs and hostnames of the HTTPRoute); none were given"
        )
    return GatewayApiRouter(api, version, gateway, read=read)
