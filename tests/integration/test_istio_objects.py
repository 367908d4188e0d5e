"""The Istio router's objects, for every strategy and every Istio field it applies, are valid
for Istio's own CRDs (the sandbox's, from istio.io/api): created with strict field validation,
nothing pruned."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi

from canary.api.analysis import MatchRequest, StringMatch
from canary.api.canary import HeaderOperations, Headers
from canary.routers.base import RouteRef
from canary.routers.istio_objects import destination_rule, istio_settings, virtual_service
from canary.routers.settings import RouteSettings
from canary.routers.sticky import Affinity, Cookies

pytestmark = pytest.mark.integration

EVERY_FIELD = {
    "spec.service.gateways": ["public-gateway", "mesh"],
    "spec.service.trafficPolicy": {
        "tls": {"mode": "ISTIO_MUTUAL"},
        "loadBalancer": {"simple": "LEAST_REQUEST"},
    },
    "spec.service.retries": {"attempts": 3, "perTryTimeout": "1s", "retryOn": "gateway-error"},
    "spec.service.match": [{"uri": {"prefix": "/api"}}],
    "spec.service.rewrite": {"uri": "/", "type": "ReplacePrefixMatch"},
    "spec.service.corsPolicy": {
        "allowOrigins": [{"exact": "https://example.com"}],
        "allowMethods": ["GET", "POST"],
        "maxAge": "24h",
    },
}
HEADERS = Headers(
    request=HeaderOperations(add={"x-a": "1"}, set={"x-b": "2"}),
    response=HeaderOperations(remove=["x-internal"]),
)
AFFINITY = Affinity(cookie_name="canary", interval_seconds=10, primary_cookie_name="stable")
MATCHES = (
    MatchRequest(
        headers={"user-agent": StringMatch(suffix="Firefox")},
        query_params={"beta": StringMatch(exact="1")},
        source_labels={"app": "frontend"},
    ),
)


def _objects(namespace: str) -> list[dict[str, Any]]:
    def route(name: str) -> RouteRef:
        return RouteRef(namespace=namespace, apex=name, owner=None)

    def settings(**values: Any) -> Any:
        fields = values.pop("fields", EVERY_FIELD)
        return istio_settings(RouteSettings(provider="istio", port=9898, fields=fields, **values))

    common = settings(timeout="1500ms", headers=HEADERS, hosts=("app.example.com",))
    sticky = settings(affinity=AFFINITY, port_discovery=True)
    return [
        destination_rule("canary-primary", route("canary"), common),
        virtual_service(route("canary"), common, primary_weight=70, canary_weight=30),
        virtual_service(
            route("ab"), settings(matches=MATCHES), primary_weight=0, canary_weight=100
        ),
        virtual_service(
            route("mirrored"),
            settings(mirror_percent=25),
            primary_weight=100,
            canary_weight=0,
            mirror=True,
        ),
        virtual_service(
            route("sticky"),
            sticky,
            primary_weight=90,
            canary_weight=10,
            cookies=Cookies(canary="canary=c1", primary="stable=p1"),
        ),
        virtual_service(
            route("expired"),
            sticky,
            primary_weight=100,
            canary_weight=0,
            cookies=Cookies(previous="canary=c1"),
        ),
        virtual_service(
            route("delegate"),
            settings(
                fields={**EVERY_FIELD, "spec.service.gateways": [], "spec.service.delegation": True}
            ),
            primary_weight=50,
            canary_weight=50,
        ),
        virtual_service(
            route("tcp"),
            settings(app_protocol="tcp", fields={"spec.service.match": [{"port": 9898}]}),
            primary_weight=80,
            canary_weight=20,
        ),
    ]


async def test_every_object_the_istio_router_writes_is_valid_for_istios_crds(
    api: ApiClient, namespace: str
) -> None:
    custom = CustomObjectsApi(api)
    for manifest in _objects(namespace):
        plural = {"VirtualService": "virtualservices", "DestinationRule": "destinationrules"}
        created = await custom.create_namespaced_custom_object(
            "networking.istio.io",
            "v1beta1",
            namespace,
            plural[manifest["kind"]],
            manifest,
            field_validation="Strict",
        )
        assert created["spec"] == manifest["spec"], f"{manifest['metadata']['name']}: pruned"
