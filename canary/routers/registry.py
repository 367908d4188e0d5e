"""Provider name -> router: the explicit registry behind the Canary's `provider` field.

Names follow Flagger's `-mesh-provider`/`spec.provider` so manifests move over unchanged. An
unknown name is an error that lists the known ones, never a silent fallback (Flagger falls back
to Istio). `linkerd` means SMI v1alpha2, not Flagger's v1alpha1: v1alpha2 is the storage version
of the linkerd-smi extension's CRD (and of the sandbox's), its weights are plain integers, and a
v1alpha1 object with quantity-string weights read back as v1alpha2 (the CRDs convert by
relabelling only) would carry strings where readers expect integers. `smi:v1alpha1` ..
`smi:v1alpha4` choose a version explicitly; Flagger's `smi:<version>:<mesh>` form is accepted
(the mesh part names the metrics, not the route). `gatewayapi:v1` and `gatewayapi:v1beta1` route
with an HTTPRoute of that version. `kubernetes` is blue/green with plain Services: the apex
Service's selector is the route.

Adding a provider is one line in `PROVIDERS` naming the `RouterKind` its router module exports
(and the same name in `canary.api.foreign.PROVIDERS`, which admission checks). This module only
maps names; it must not build objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import Reader, ResourceKind
from canary.routers import apisix, contour, gloo, istio, knative, kuma, nginx, skipper, traefik
from canary.routers.base import Router
from canary.routers.bluegreen import ServiceRouter
from canary.routers.gatewayapi import (
    GatewayApiRouter,
    GatewaySettings,
    GatewayVersion,
    gateway_duration,
)
from canary.routers.kind import GENERIC, Build, Release, RouterKind
from canary.routers.settings import RouteSettings
from canary.routers.smi import KIND as TRAFFIC_SPLIT_KIND
from canary.routers.smi import SmiRouter, SmiVersion

__all__ = ["Build", "Release", "RouterKind"]  # re-exported: they lived here


def _smi(version: SmiVersion) -> RouterKind:
    def build(api: ApiClient, read: Reader | None, settings: RouteSettings) -> Router:
        return SmiRouter(api, version, read=read, matches=settings.matches)

    return RouterKind(
        build=build,
        route=resources.resource_kind(version.api_version, TRAFFIC_SPLIT_KIND),
        can_match=version in (SmiVersion.V1ALPHA3, SmiVersion.V1ALPHA4),
        match_query_params=False,
    )


def _gateway(version: GatewayVersion) -> RouterKind:
    def build(api: ApiClient, read: Reader | None, settings: RouteSettings) -> Router:
        gateway = GatewaySettings(
            port=settings.port,
            parent_refs=settings.gateway_refs,
            hostnames=settings.hosts,
            timeout=gateway_duration(settings.timeout) if settings.timeout else None,
            matches=settings.matches,
            mirror_percent=settings.mirror_percent,
            headers=settings.headers,
            affinity=settings.affinity,
            labels=settings.labels,
            annotations=settings.annotations,
        )
        return GatewayApiRouter(api, version, gateway, read=read)

    return RouterKind(
        build=build,
        route=resources.resource_kind(version.api_version, "HTTPRoute"),
        can_match=True,
        can_mirror=True,
        sticky=True,
        generic=frozenset(GENERIC),
    )


def _services(api: ApiClient, read: Reader | None, settings: RouteSettings) -> Router:
    if settings.matches:
        raise ValueError(
            "the kubernetes provider cannot route requests by match (analysis.match); "
            "use gatewayapi:v1 or smi:v1alpha3/v1alpha4 for A/B testing"
        )
    return ServiceRouter(api, read=read)


KUBERNETES: Final = "kubernetes"

PROVIDERS: Final[Mapping[str, RouterKind]] = {
    "linkerd": _smi(SmiVersion.V1ALPHA2),
    **{f"smi:{version.value}": _smi(version) for version in SmiVersion},
    **{f"gatewayapi:{version.value}": _gateway(version) for version in GatewayVersion},
    KUBERNETES: RouterKind(build=_services, route=None, progressive=False),
    "nginx": nginx.ROUTER,
    "skipper": skipper.ROUTER,
    "istio": istio.ROUTER,
    "contour": contour.ROUTER,
    "gloo": gloo.ROUTER,
    "traefik": traefik.ROUTER,
    "apisix": apisix.ROUTER,
    "kuma": kuma.ROUTER,
    "knative": knative.ROUTER,
}
KNOWN_PROVIDERS: Final = tuple(PROVIDERS)
_GATEWAY: Final[Mapping[str, GatewayVersion]] = {
    f"gatewayapi:{version.value}": version for version in GatewayVersion
}


def _unknown(provider: str) -> ValueError:
    known = ", ".join(KNOWN_PROVIDERS)
    return ValueError(
        f"unknown traffic provider {provider!r}; known providers: {known} "
        "(smi:<version>:<mesh> is accepted too)"
    )


def _canonical(provider: str) -> str:
    """Flagger's `smi:<version>:<mesh>` as `smi:<version>`; any other name as it is."""
    if provider.startswith("smi:"):
        version, separator, mesh = provider.removeprefix("smi:").partition(":")
        if mesh or not separator:  # "smi:v1alpha2:linkerd" or "smi:v1alpha2", not "smi:v1alpha2:"
            return f"smi:{version}"
    return provider


def router_kind(provider: str) -> RouterKind:
    """The router of `provider`; ValueError naming it and the known ones."""
    try:
        return PROVIDERS[_canonical(provider)]
    except KeyError:
        raise _unknown(provider) from None


def smi_version(provider: str) -> SmiVersion:
    """The SMI version `provider` routes with; ValueError naming it and the known ones."""
    if provider in _GATEWAY:
        raise ValueError(f"traffic provider {provider!r} routes with an HTTPRoute, not SMI")
    if provider == KUBERNETES:
        raise ValueError(f"traffic provider {provider!r} routes with Services, not SMI")
    name = _canonical(provider)
    if name == "linkerd":
        return SmiVersion.V1ALPHA2
    if name.startswith("smi:") and name in PROVIDERS:
        return SmiVersion(name.removeprefix("smi:"))
    raise _unknown(provider)


def gateway_version(provider: str) -> GatewayVersion | None:
    """The HTTPRoute version `provider` routes with; None for a provider that is not Gateway API."""
    return _GATEWAY.get(provider)


def route_kinds() -> tuple[ResourceKind, ...]:
    """The kinds of every provider's route object, each once."""
    found = {kind.route.kind: kind.route for kind in PROVIDERS.values() if kind.route is not None}
    return tuple(found.values())


def router_for(
    provider: str,
    api: ApiClient,
    settings: RouteSettings | None = None,
    *,
    read: Reader | None = None,
) -> Router:
    """The router for `provider`, writing through `api` and reading through `read` (the API
    server when not given; the controller passes its watch caches), built from `settings` (the
    Canary's routing settings; the defaults when not given). ValueError, naming the field, when
    the settings ask for what the provider cannot do."""
    kind = router_kind(provider)
    return kind.build(api, read, settings or RouteSettings(provider=provider))
