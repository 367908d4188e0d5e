"""The route of a Canary and the router that drives it, from the Canary's spec.

The one place that reads `spec.provider`, `spec.service` (port, gatewayRefs, hosts, timeout,
headers, and Flagger's provider-specific fields) and `spec.analysis` (match, mirrorWeight,
sessionAffinity) into the routers' plain `RouteSettings`, with the controller's routing flags
(`--ingress-annotations-prefix`, `--ingress-class`), so the routers never see the Canary resource
nor the controller's settings.
"""

from __future__ import annotations

from typing import Any

from canary.api.canary import Canary, GatewayRef
from canary.kube.client import ApiClient
from canary.kube.resources import CanaryRef, Reader
from canary.routers.base import Router, RouteRef
from canary.routers.registry import router_for
from canary.routers.settings import ControllerRouting, RouteSettings
from canary.routers.sticky import Affinity, cookie_attributes

DEFAULT_ROUTING = ControllerRouting()


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


def router_of(
    canary: Canary,
    api: ApiClient,
    *,
    read: Reader,
    default_provider: str,
    controller: ControllerRouting = DEFAULT_ROUTING,
) -> Router:
    """The Canary's router, with the controller's routing flags; ValueError (naming the field)
    when its settings cannot work."""
    provider = canary.spec.provider or default_provider
    settings = route_settings(canary, provider, controller=controller)
    return router_for(provider, api, settings, read=read)


def route_settings(
    canary: Canary, provider: str, *, controller: ControllerRouting = DEFAULT_ROUTING
) -> RouteSettings:
    """Everything of the Canary a router may honour, for `provider`, with the controller's
    routing flags."""
    service, analysis = canary.spec.service, canary.spec.analysis
    return RouteSettings(
        provider=provider,
        port=service.port,
        port_name=service.port_name,
        target_port=service.target_port,
        app_protocol=service.app_protocol,
        port_discovery=service.port_discovery,
        hosts=tuple(service.hosts),
        gateway_refs=tuple(_parent_ref(ref) for ref in service.gateway_refs),
        timeout=service.timeout,
        headers=service.headers,
        matches=tuple(analysis.match),
        mirror_percent=analysis.mirror_weight,
        affinity=_affinity(canary),
        interval_seconds=analysis.interval_seconds,
        labels=dict(service.apex.labels) if service.apex else {},
        annotations=dict(service.apex.annotations) if service.apex else {},
        fields=canary.spec.provider_fields,
        canary_annotations=dict(canary.metadata.annotations),
        controller=controller,
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
