"""The mesh simulator's Istio: VirtualServices read as splits, the sidecars' series exported with
the labels Istio's builtin queries select on, and Istio's CRDs pinned from istio.io/api."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from canary.routers.base import RouteRef
from canary.routers.istio_objects import istio_settings, virtual_service
from canary.routers.settings import RouteSettings
from canary.sandbox import binaries, crd_components, crds
from canary.sandbox.exporters.base import Traffic
from canary.sandbox.exporters.istio import PROVIDER, service_of, splits_of_virtual_service
from canary.sandbox.exporters.registry import PROVIDERS
from canary.sandbox.meshsim_exposition import render
from canary.sandbox.meshsim_model import Feed, Series, feeds, plan
from canary.sandbox.meshsim_objects import Backend, Behaviour, Service, Workload

ROUTE = RouteRef(namespace="shop", apex="podinfo", owner=None)


def _vs(**settings: Any) -> dict[str, Any]:
    mirror = settings.pop("mirror", False)
    weights = settings.pop("weights", (90, 10))
    istio = istio_settings(RouteSettings(provider="istio", **settings))
    return virtual_service(
        ROUTE, istio, primary_weight=weights[0], canary_weight=weights[1], mirror=mirror
    )


def test_the_routers_virtual_service_reads_as_its_weights() -> None:
    (split,) = splits_of_virtual_service(_vs())
    assert split.kind == "VirtualService"
    assert split.route == "podinfo"
    assert split.backends == (Backend("podinfo-primary", 90.0), Backend("podinfo-canary", 10.0))
    assert split.mirrors == ()


def test_mirroring_reads_as_a_mirror_with_its_percentage() -> None:
    (split,) = splits_of_virtual_service(_vs(mirror=True, mirror_percent=25, weights=(100, 0)))
    assert split.mirrors == (Backend("podinfo-canary", 0.25),)
    (everything,) = splits_of_virtual_service(_vs(mirror=True, weights=(100, 0)))
    assert everything.mirrors == (Backend("podinfo-canary", 1.0),)


def test_routes_share_the_rate_and_hosts_name_services_in_any_form() -> None:
    manifest = {
        "metadata": {
            "name": "root",
            "namespace": "shop",
            "annotations": {"meshsim.canary.dev/rate": "30"},
        },
        "spec": {
            "http": [
                {"route": [{"destination": {"host": "a.shop.svc.cluster.local"}}]},
                {"route": [{"destination": {"host": "b.other.svc.cluster.local"}, "weight": 100}]},
                {"delegate": {"name": "podinfo", "namespace": "shop"}},
                {"route": [{"destination": {"host": "example.com"}}]},
            ]
        },
    }
    splits = splits_of_virtual_service(manifest)
    assert [s.backends for s in splits] == [
        (Backend("a", 100.0),),
        (Backend("b", 100.0, namespace="other"),),
    ]
    assert [s.share for s in splits] == [0.5, 0.5]
    assert {s.rate for s in splits} == {30.0}
    assert service_of("example.com", "shop") is None
    assert service_of("b.other", "shop") is None


def test_a_bad_weight_is_a_problem_not_a_guess() -> None:
    manifest = {
        "metadata": {"name": "vs", "namespace": "shop"},
        "spec": {
            "http": [
                {
                    "route": [
                        {"destination": {"host": "a"}, "weight": "ten"},
                        {"destination": {"host": "b"}, "weight": 100},
                    ]
                }
            ]
        },
    }
    (split,) = splits_of_virtual_service(manifest)
    assert split.backends[0].weight == 0.0
    problem = "VirtualService shop/vs: http[0] destination a: weight 'ten' is not a whole number"
    assert split.problems == (f"{problem}; using 0",)


def _workload(name: str, labels: dict[str, str]) -> Workload:
    return Workload("shop", name, labels, 1, Behaviour())


def test_the_plan_follows_the_virtual_service_to_the_deployments() -> None:
    services = [
        Service("shop", "podinfo-primary", {"app": "podinfo-primary"}),
        Service("shop", "podinfo-canary", {"app": "podinfo"}),
    ]
    workloads = [
        _workload("podinfo-primary", {"app": "podinfo-primary"}),
        _workload("podinfo", {"app": "podinfo"}),
    ]
    splits = splits_of_virtual_service(_vs())
    rates = plan(splits, services, workloads, default_rate=20.0)
    assert rates[("shop", "podinfo-primary")].rate == pytest.approx(18.0)
    assert rates[("shop", "podinfo")].rate == pytest.approx(2.0)
    fed = feeds(splits, services, workloads, default_rate=20.0)
    assert fed[("shop", "podinfo")][0].route_kind == "VirtualService"


def _samples(metrics: list[Metric], name: str) -> list[tuple[dict[str, str], float]]:
    return [(s.labels, s.value) for m in metrics for s in m.samples if s.name == name]


def test_the_sidecars_series_carry_the_labels_istios_queries_select_on() -> None:
    series = Series(successes=9, failures=1)
    series.buckets[6] = 10  # 20 ms
    series.failure_buckets[6] = 1
    series.latency_sum_ms = 200.0
    series.failure_latency_sum_ms = 20.0
    feed = Feed("VirtualService", "podinfo", "shop", "podinfo-canary", "shop", 2.0)
    traffic = Traffic(
        series={("shop", "podinfo"): series},
        routes={("shop", "podinfo"): (feed,)},
        pod_name=lambda key: f"{key[1]}-abc",
    )
    metrics = list(text_string_to_metric_families(render(traffic, [PROVIDER])))
    requests = _samples(metrics, "istio_requests_total")
    common = {
        "reporter": "destination",
        "destination_workload": "podinfo",
        "destination_workload_namespace": "shop",
        "destination_service": "podinfo-canary.shop.svc.cluster.local",
        "destination_service_name": "podinfo-canary",
        "destination_service_namespace": "shop",
        "request_protocol": "http",
    }
    assert requests == [
        ({**common, "response_code": "200"}, 9),
        ({**common, "response_code": "500"}, 1),
    ]
    buckets = _samples(metrics, "istio_request_duration_milliseconds_bucket")
    ok = {labels["le"]: value for labels, value in buckets if labels["response_code"] == "200"}
    assert ok["10"] == 0
    assert ok["20"] == 9
    assert ok["+Inf"] == 9
    sums = _samples(metrics, "istio_request_duration_milliseconds_sum")
    assert [value for _, value in sums] == [180.0, 20.0]


def test_istio_is_one_of_the_simulated_providers() -> None:
    assert "istio" in [provider.name for provider in PROVIDERS]


def test_istios_crds_are_pinned_from_the_istio_api_module() -> None:
    component = next(c for c in crd_components.CRD_COMPONENTS if c.name == "istio")
    assert component.packages == ()
    assert component.upstream == "istio.io/api"
    assert component.crd_files == ("kubernetes/customresourcedefinitions.gen.yaml",)
    go_mod = (component.module_dir / "go.mod").read_text()
    assert f"istio.io/api {crd_components.ISTIO_API_VERSION}" in go_mod


def test_cached_istio_crds_hold_the_virtual_service_and_destination_rule() -> None:
    built = binaries.cached_binaries(binaries.default_cache_root())
    if built is None or "istio" not in built.upstream_crds:
        pytest.skip("the sandbox's binaries are not built")
    loaded = [m for path in built.upstream_crds["istio"] for m in crds.load_all(path)]
    names = {m["metadata"]["name"] for m in loaded}
    assert {"virtualservices.networking.istio.io", "destinationrules.networking.istio.io"} <= names
    assert all(m["kind"] == "CustomResourceDefinition" for m in loaded)
