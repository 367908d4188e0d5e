"""The mesh simulator's APISIX: ApisixRoutes read as one split per http rule, and APISIX's
per-route series, under the labels the `apisix` builtins select."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from canary.routers.apisix import canary_route
from canary.routers.base import RouteRef
from canary.sandbox.exporters.apisix import PROVIDER, splits_of_apisix_route
from canary.sandbox.exporters.base import Traffic
from canary.sandbox.exporters.registry import PROVIDERS
from canary.sandbox.meshsim_exposition import render
from canary.sandbox.meshsim_model import Series, feeds
from canary.sandbox.meshsim_objects import Backend, Behaviour, Service, Workload

NS = "test"
ROUTE = RouteRef(namespace=NS, apex="podinfo", owner=None)
ORIGINAL: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": NS, "annotations": {"meshsim.canary.dev/rate": "50"}},
    "spec": {
        "http": [
            {
                "name": "method",
                "match": {"paths": ["/*"]},
                "backends": [{"serviceName": "podinfo", "servicePort": 80}],
            }
        ]
    },
}


def test_the_simulator_follows_apisix_routes() -> None:
    assert PROVIDER in PROVIDERS
    (source,) = PROVIDER.routes
    assert (source.kind.api_version, source.kind.plural) == ("apisix.apache.org/v2", "apisixroutes")


def test_each_http_rule_is_an_apisix_route_splitting_by_weight() -> None:
    copy = canary_route(ORIGINAL, ROUTE, primary_weight=80, canary_weight=20)
    (split,) = splits_of_apisix_route(copy)
    assert (split.kind, split.route, split.rate) == (
        "ApisixRoute",
        "web-podinfo-canary_method",
        50.0,
    )
    assert split.backends == (
        Backend("podinfo-primary", 80.0, port=80),
        Backend("podinfo-canary", 20.0, port=80),
    )
    (original,) = splits_of_apisix_route(ORIGINAL)
    assert original.backends == (Backend("podinfo", 100.0, port=80),)  # APISIX's default weight


def test_rules_share_the_routes_rate_and_bad_weights_are_reported() -> None:
    manifest = {
        "metadata": {"name": "two", "namespace": NS},
        "spec": {
            "http": [
                {"name": "a", "backends": [{"serviceName": "x", "servicePort": 80}]},
                {"name": "b", "backends": [{"serviceName": "y", "weight": "many"}]},
                {"name": "c", "backends": []},
            ]
        },
    }
    first, second = splits_of_apisix_route(manifest)
    assert (first.share, second.share) == (0.5, 0.5)
    assert second.backends[0].weight == 0.0
    assert len(first.problems) == 1
    assert "rule 1 backend y" in first.problems[0]


def _metrics(traffic: Traffic) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(render(traffic, [PROVIDER])):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_a_workload_is_counted_under_the_canary_copys_route_with_its_pod_as_node() -> None:
    copy = canary_route(ORIGINAL, ROUTE, primary_weight=50, canary_weight=50)
    splits = splits_of_apisix_route(copy) + splits_of_apisix_route(ORIGINAL)
    services = [
        Service(NS, "podinfo", {"app": "podinfo-primary"}),
        Service(NS, "podinfo-primary", {"app": "podinfo-primary"}),
        Service(NS, "podinfo-canary", {"app": "podinfo"}),
    ]
    workloads = [
        Workload(NS, name, {"app": name}, 1, Behaviour()) for name in ("podinfo-primary", "podinfo")
    ]
    routes = feeds(splits, services, workloads)
    assert {f.route for f in routes[(NS, "podinfo-primary")]} == {
        "web-podinfo-canary_method",
        "web_method",
    }
    canary = Series(successes=7, failures=3)
    canary.buckets[6] = 10
    traffic = Traffic(
        series={(NS, "podinfo"): canary, (NS, "podinfo-primary"): Series(successes=4)},
        routes=routes,
        pod_name=lambda key: f"{key[1]}-pod",
    )
    metrics = _metrics(traffic)
    by_route_node_code = {
        (dict(labels)["route"], dict(labels)["node"], dict(labels)["code"]): value
        for labels, value in metrics["apisix_http_status"].items()
    }
    copy_route = "test_web-podinfo-canary_method"  # sorts before test_web_method
    assert by_route_node_code == {
        (copy_route, "podinfo-pod", "200"): 7,
        (copy_route, "podinfo-pod", "500"): 3,
        (copy_route, "podinfo-primary-pod", "200"): 4,
    }
    buckets = metrics["apisix_http_latency_bucket"]
    assert {
        dict(labels)["le"]: value
        for labels, value in buckets.items()
        if dict(labels)["node"] == "podinfo-pod" and dict(labels)["le"] in ("20", "+Inf")
    } == {"20": 10, "+Inf": 10}
