"""The mesh simulator's Kuma provider: TrafficRoutes read as splits, dataplane Envoy series."""

from __future__ import annotations

from canary.kube.resources import CanaryRef
from canary.routers.base import RouteRef
from canary.routers.kuma import traffic_route
from canary.sandbox.exporters.base import Traffic
from canary.sandbox.exporters.kuma import KIND, PROVIDER, splits_of_traffic_route
from canary.sandbox.meshsim_exposition import render
from canary.sandbox.meshsim_model import Feed, Series
from canary.sandbox.meshsim_objects import Backend

ROUTE = RouteRef(namespace="shop", apex="web", owner=CanaryRef("web", "shop", "u"))


def test_the_split_divides_the_destinations_requests_among_the_tagged_services() -> None:
    manifest = traffic_route(ROUTE, port=9898, mesh="default", primary=80, canary=20)
    manifest["metadata"]["annotations"]["meshsim.canary.dev/rate"] = "30"
    [split] = splits_of_traffic_route(manifest)
    assert (split.kind, split.namespace, split.apex, split.rate) == (KIND, "shop", "web", 30.0)
    assert split.apex_route == "web_shop_svc_9898"
    assert split.backends == (
        Backend("web-primary", 80.0, namespace="shop"),
        Backend("web-canary", 20.0, namespace="shop"),
    )


def test_a_route_without_a_kubernetes_service_tag_is_not_followed() -> None:
    manifest = traffic_route(ROUTE, port=9898, mesh="default", primary=100, canary=0)
    manifest["spec"]["destinations"] = [{"match": {"kuma.io/service": "external"}}]
    assert splits_of_traffic_route(manifest) == []


def test_dataplane_series_are_labelled_with_the_service_tag() -> None:
    feed = Feed(KIND, "web_shop_svc_9898", "shop", "web-canary", "shop", 5.0)
    traffic = Traffic(
        series={("shop", "web"): Series(successes=9, failures=1), ("shop", "x"): Series(3)},
        routes={("shop", "web"): (feed,)},
        pod_name=lambda key: key[1],
    )
    text = render(traffic, [PROVIDER])
    tag = 'service="web-canary_shop_svc_9898"'
    assert f'envoy_cluster_upstream_rq{{envoy_response_code="500",{tag}}} 1.0' in text
    assert f"envoy_cluster_upstream_rq_time_count{{{tag}}}" in text
    assert 'service="x' not in text
