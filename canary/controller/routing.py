"""The route of a Canary and the router that drives it, from the Canary's spec.

The one place that reads `spec.provider`, `spec.service` (port, gatewayRefs, hosts, timeout,
headers) and `spec.analysis` (match, mirrorWeight, sessionAffinity) into the routers' plain
settings, so the routers never see the Canary resource.
"""

from __future__ import annotations

from typing import Any

from canary.api.canary import Canary, GatewayRef
from canary.api.durations import parse_duration
from canary.kube.client import ApiClient
from canary.kube.resources import CanaryRef, Reader
from canary.routers.base import Router, RouteRef
from canary.routers.gatewayapi import GatewaySettings
from canary.routers.registry import gateway_version, router_for
from canary.routers.sticky import Affinity, cookie_attributes


def owner_of(canary: Canary) -> CanaryRef:
    return CanaryRef(
        name=canary.metadata.name, namespace=canary.metadata.namespace, uid=canary.metadata.uid
    )


def route_of(canary: Canary) -> RouteRef:
    return RouteRef(
        namespace=canary.metadata.namespace,
        apex=canary.spec.service_name,
        owner=owner_of(canary),
    )


def router_of(canary: Canary, api: ApiClient, *, read: Reader, default_provider: str) -> Router:
    """The Canary's router; ValueError (naming the field) when its settings cannot work."""
    provider = canary.spec.provider or default_provider
    gateway = gateway_settings(canary) if gateway_version(provider) is not None else None
    return router_for(
        provider, api, read=read, gateway=gateway, matches=tuple(canary.spec.analysis.match)
    )


def gateway_settings(canary: Canary) -> GatewaySettings:
    service, analysis = canary.spec.service, canary.spec.analysis
    return GatewaySettings(
        port=service.port,
        parent_refs=tuple(_parent_ref(ref) for ref in service.gateway_refs),
        hostnames=tuple(service.hosts),
        timeout=_gateway_duration(service.timeout) if service.timeout else None,
        matches=tuple(analysis.match),
        mirror_percent=analysis.mirror_weight,
        headers=service.headers,
        affinity=_affinity(canary),
        labels=dict(service.apex.labels) if service.apex else {},
        annotations=dict(service.apex.annotations) if service.apex else {},
    )


def _affinity(canary: Canary) -> Affinity | None:
    analysis = canary.spec.analysis
    sticky = analysis.session_affinity
    if sticky is None:
        return None
    return Affinity(
        cookie_name=sticky.cookie_name,
        interval_seconds=max(1, int(analysis.interval_seconds)),
        primary_cookie_name=sticky.primary_cookie_name,
        max_age=sticky.max_age,
        attributes=cookie_attributes(
            domain=sticky.domain,
            path=sticky.path,
            http_only=sticky.http_only,
            secure=sticky.secure,
            same_site=sticky.same_site,
            partitioned=sticky.partitioned,
        ),
    )


def _parent_ref(ref: GatewayRef) -> dict[str, Any]:
    parent: dict[str, Any] = {"group": ref.group, "kind": ref.kind, "name": ref.name}
    if ref.namespace is not None:
        parent["namespace"] = ref.namespace
    if ref.section_name is not None:
        parent["sectionName"] = ref.section_name
    if ref.port is not None:
        parent["port"] = ref.port
    return parent


def _gateway_duration(duration: str) -> str:
    """A Canary duration (`1m30s`, `500ms`, `2h`) in the Gateway API's form: whole units of
    h, m, s or ms, at most one of each (e.g. `90s`, `1500ms`)."""
    seconds = parse_duration(duration)
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"
