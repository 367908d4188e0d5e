"""The mesh simulator's Contour and Gloo providers: HTTPProxies and RouteTables read as splits,
the Envoy cluster series exported with the labels their builtin queries select on (one family
per metric for both), and the sandbox's Contour CRDs."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from canary.api.analysis import MatchRequest, StringMatch
from canary.routers.base import RouteRef
from canary.routers.contour import ContourSettings, http_proxy
from canary.routers.gloo import GlooSettings, route_table
from canary.sandbox import binaries, crd_components, crds
from canary.sandbox.exporters import contour, envoy, gloo
from canary.sandbox.exporters.base import Traffic
from canary.sandbox.exporters.registry import PROVIDERS
from canary.sandbox.meshsim_exposition import render
from canary.sandbox.meshsim_model import Feed, Series, feeds, plan
from canary.sandbox.meshsim_objects import RATE_ANNOTATION, Backend, Service, Workload

NS = "shop"
ROUTE = RouteRef(namespace=NS, apex="podinfo", owner=None)
SERVICES = [
    Service(NS, "podinfo", {"app": "podinfo-primary"}),
    Service(NS, "podinfo-primary", {"app": "podinfo-primary"}),
    Service(NS, "podinfo-canary", {"app": "podinfo"}),
]


def _workload(name: str) -> Workload:
    return Workload.from_manifest(
        {
            "metadata": {"name": name, "namespace": NS},
            "spec": {"template": {"metadata": {"labels": {"app": name}}}},
            "status": {"readyReplicas": 1},
        }
    )


WORKLOADS = [_workload("podinfo-primary"), _workload("podinfo")]


def _proxy(primary: int, canary: int, **settings: Any) -> dict[str, Any]:
    proxy = http_proxy(
        ROUTE, ContourSettings(port=9898, **settings), primary_weight=primary, canary_weight=canary
    )
    proxy["metadata"]["annotations"]["meshsim.canary.dev/rate"] = "100"
    return proxy


def test_the_controllers_http_proxy_is_one_split_by_weight_with_ports() -> None:
    (split,) = contour.splits_of_http_proxy(_proxy(80, 20))
    assert split.kind == "HTTPProxy"
    assert split.route == "podinfo"
    assert split.rate == 100
    assert split.backends == (
        Backend("podinfo-primary", 80.0, port=9898),
        Backend("podinfo-canary", 20.0, port=9898),
    )
    rates = plan([split], SERVICES, WORKLOADS)
    assert {name: target.rate for (_, name), target in rates.items()} == {
        "podinfo": 20.0,
        "podinfo-primary": 80.0,
    }
    routed = feeds([split], SERVICES, WORKLOADS)
    assert routed[(NS, "podinfo")][0].port == 9898
    assert routed[(NS, "podinfo")][0].service == "podinfo-canary"


def test_ab_routes_share_the_proxys_rate() -> None:
    match = MatchRequest(headers={"x-canary": StringMatch(exact="insider")})
    splits = contour.splits_of_http_proxy(_proxy(0, 100, matches=(match,)))
    assert [s.share for s in splits] == [0.5, 0.5]
    rates = plan(splits, SERVICES, WORKLOADS)
    assert {name: target.rate for (_, name), target in rates.items()} == {
        "podinfo": 50.0,
        "podinfo-primary": 50.0,
    }


def test_root_proxies_mirrors_and_unweighted_services() -> None:
    root = {
        "metadata": {"name": "podinfo-ingress", "namespace": NS},
        "spec": {"virtualhost": {"fqdn": "a.example"}, "includes": [{"name": "podinfo"}]},
    }
    assert contour.splits_of_http_proxy(root) == []
    proxy = {
        "metadata": {"name": "app", "namespace": NS},
        "spec": {
            "routes": [
                {
                    "services": [
                        {"name": "a", "port": 80},
                        {"name": "b", "port": 80},
                        {"name": "c", "port": 80, "mirror": True, "weight": 25},
                    ]
                }
            ]
        },
    }
    (split,) = contour.splits_of_http_proxy(proxy)
    assert [b.weight for b in split.backends] == [1.0, 1.0]  # Contour: an even split
    assert split.mirrors == (Backend("c", 0.25, port=80),)


def test_bad_weights_and_rates_are_problems() -> None:
    proxy = {
        "metadata": {"name": "app", "namespace": NS, "annotations": {RATE_ANNOTATION: "x"}},
        "spec": {"routes": [{"services": [{"name": "a", "port": 80, "weight": "9"}]}]},
    }
    (split,) = contour.splits_of_http_proxy(proxy)
    assert split.rate is None
    assert len(split.problems) == 2


def _exposed(traffic: Traffic) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    text = render(traffic, [envoy.PROVIDER])
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


def test_envoy_series_are_named_after_the_canary_services_cluster() -> None:
    canary = Series(successes=7, failures=3)
    canary.buckets[5] = 10  # 10 requests of at most 10 ms
    canary.latency_sum_ms = 55.0
    feed = Feed("HTTPProxy", "podinfo", NS, "podinfo-canary", NS, 10.0, port=9898)
    other = Feed("TrafficSplit", "podinfo", NS, "podinfo-canary", NS, 10.0)
    traffic = Traffic(
        series={(NS, "podinfo"): canary, (NS, "elsewhere"): Series(successes=1)},
        routes={(NS, "podinfo"): (feed,), (NS, "elsewhere"): (other,)},
        pod_name=lambda key: key[1],
    )
    exposed = _exposed(traffic)
    cluster = f"{NS}_podinfo-canary_9898"
    assert exposed["envoy_cluster_upstream_rq"] == [
        (
            "envoy_cluster_upstream_rq",
            {"envoy_response_code": "200", "envoy_cluster_name": cluster},
            7,
        ),
        (
            "envoy_cluster_upstream_rq",
            {"envoy_response_code": "500", "envoy_cluster_name": cluster},
            3,
        ),
    ]
    buckets = [s for s in exposed["envoy_cluster_upstream_rq_time"] if s[0].endswith("_bucket")]
    assert {s[1]["envoy_cluster_name"] for s in buckets} == {cluster}
    assert (
        "envoy_cluster_upstream_rq_time_bucket",
        {"envoy_cluster_name": cluster, "le": "10"},
        10,
    ) in buckets


def test_the_contour_provider_is_registered() -> None:
    assert contour.PROVIDER in PROVIDERS
    assert envoy.PROVIDER in PROVIDERS
    (source,) = contour.PROVIDER.routes
    assert (source.kind.api_version, source.kind.plural) == ("projectcontour.io/v1", "httpproxies")


def test_the_build_copies_contours_crd_file() -> None:
    component = next(c for c in crd_components.CRD_COMPONENTS if c.name == "contour")
    assert component.packages == ()
    assert component.upstream == "github.com/projectcontour/contour"
    assert component.version == crd_components.CONTOUR_VERSION
    assert component.crd_files == ("examples/contour/01-crds.yaml",)


def test_cached_contour_crds_load_as_crds() -> None:
    built = binaries.cached_binaries(binaries.default_cache_root())
    if built is None:
        pytest.skip("the sandbox's binaries are not built")
    loaded = [m for path in built.upstream_crds["contour"] for m in crds.load_all(path)]
    assert "httpproxies.projectcontour.io" in {m["metadata"]["name"] for m in loaded}
    assert all(m["kind"] == "CustomResourceDefinition" for m in loaded)
    (proxy,) = [m for m in loaded if m["spec"]["names"]["kind"] == "HTTPProxy"]
    assert [v["name"] for v in proxy["spec"]["versions"] if v["served"]] == ["v1"]


def test_gloo_route_tables_are_read_through_flaggers_upstream_names() -> None:
    table = route_table(ROUTE, GlooSettings(port=9898), primary_weight=70, canary_weight=30)
    (split,) = gloo.splits_of_route_table(table)
    assert split.kind == "RouteTable"
    assert split.backends == (
        Backend("podinfo-primary", 70.0, namespace=NS, port=9898),
        Backend("podinfo-canary", 30.0, namespace=NS, port=9898),
    )
    released = {
        "metadata": table["metadata"],
        "spec": {
            "routes": [
                {
                    "routeAction": {
                        "single": {
                            "kube": {"ref": {"name": "podinfo", "namespace": NS}, "port": 9898}
                        }
                    }
                }
            ]
        },
    }
    (single,) = gloo.splits_of_route_table(released)
    assert single.backends == (Backend("podinfo", 1.0, namespace=NS, port=9898),)
    other = {
        "metadata": {"name": "x", "namespace": NS},
        "spec": {
            "routes": [
                {
                    "routeAction": {
                        "multi": {
                            "destinations": [
                                {"destination": {"upstream": {"name": "a"}}, "weight": 1}
                            ]
                        }
                    }
                }
            ]
        },
    }
    assert gloo.splits_of_route_table(other) == []


def test_contour_and_gloo_clusters_share_one_family_per_envoy_metric() -> None:
    """Two families of one name in a scrape make Prometheus drop the whole scrape."""
    series = Series(successes=4)
    traffic = Traffic(
        series={(NS, "a"): series, (NS, "b"): series},
        routes={
            (NS, "a"): (Feed("HTTPProxy", "a", NS, "a-canary", NS, 1.0, port=80),),
            (NS, "b"): (Feed("RouteTable", "b", NS, "b-canary", NS, 1.0, port=80),),
        },
        pod_name=lambda key: key[1],
    )
    text = render(traffic, [envoy.PROVIDER])
    assert text.count("# TYPE envoy_cluster_upstream_rq untyped") == 1
    assert text.count("# TYPE envoy_cluster_upstream_rq_time histogram") == 1
    names = {
        s.labels["envoy_cluster_name"]
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert names == {f"{NS}_a-canary_80", f"{NS}-b-canaryupstream-80_{NS}"}
