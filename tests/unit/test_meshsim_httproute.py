"""The mesh simulator follows HTTPRoutes: each rule divides requests by backendRef weight."""

from __future__ import annotations

from typing import Any

import pytest

from canary.sandbox import binaries, crd_components, crds
from canary.sandbox.meshsim_model import plan
from canary.sandbox.meshsim_objects import (
    Backend,
    Service,
    Split,
    Workload,
    parse_backend_ref_weight,
    splits_of_http_route,
)

NS = "shop"


def _ref(name: str, weight: object = None, **extra: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "port": 9898, **extra}
    if weight is not None:
        ref["weight"] = weight
    return ref


def _route(*rules: list[dict[str, Any]], rate: str | None = None) -> dict[str, Any]:
    annotations = {"meshsim.canary.dev/rate": rate} if rate is not None else {}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "podinfo", "namespace": NS, "annotations": annotations},
        "spec": {"rules": [{"backendRefs": refs} for refs in rules]},
    }


def _workload(name: str, *, ready: int = 1, namespace: str = NS) -> Workload:
    return Workload.from_manifest(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"template": {"metadata": {"labels": {"app": name}}}},
            "status": {"readyReplicas": ready},
        }
    )


SERVICES = [
    Service(NS, "podinfo", {"app": "podinfo-primary"}),
    Service(NS, "podinfo-primary", {"app": "podinfo-primary"}),
    Service(NS, "podinfo-canary", {"app": "podinfo"}),
]
WORKLOADS = [_workload("podinfo-primary"), _workload("podinfo")]


def _rates(splits: list[Split], **kwargs: Any) -> dict[str, float]:
    result = plan(splits, kwargs.get("services", SERVICES), kwargs.get("workloads", WORKLOADS))
    return {name: target.rate for (_, name), target in result.items()}


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 1.0), (0, 0.0), (50, 50.0), (1_000_000, 1e6)]
)
def test_backend_ref_weights_are_integers_defaulting_to_1(value: object, expected: float) -> None:
    assert parse_backend_ref_weight(value) == expected


@pytest.mark.parametrize("value", [-1, 1_000_001, "50", 1.5, True])
def test_other_backend_ref_weights_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="weight"):
        parse_backend_ref_weight(value)


def test_a_route_rule_is_a_split_with_the_routes_rate() -> None:
    route = _route([_ref("podinfo-primary", 90), _ref("podinfo-canary", 10)], rate="40")
    [split] = splits_of_http_route(route)
    assert split == Split(
        namespace=NS,
        name="podinfo",
        apex="podinfo",
        backends=(Backend("podinfo-primary", 90.0), Backend("podinfo-canary", 10.0)),
        rate=40.0,
        kind="HTTPRoute",
        route="podinfo",
    )
    assert _rates([split]) == {"podinfo": 4.0, "podinfo-primary": 36.0}


def test_a_50_50_route_and_unweighted_refs_divide_equally() -> None:
    weighted = splits_of_http_route(
        _route([_ref("podinfo-primary", 50), _ref("podinfo-canary", 50)], rate="40")
    )
    unweighted = splits_of_http_route(
        _route([_ref("podinfo-primary"), _ref("podinfo-canary")], rate="40")
    )
    assert _rates(weighted) == _rates(unweighted) == {"podinfo": 20.0, "podinfo-primary": 20.0}


def test_all_weight_on_the_primary_leaves_the_canary_without_traffic() -> None:
    splits = splits_of_http_route(
        _route([_ref("podinfo-primary", 100), _ref("podinfo-canary", 0)], rate="40")
    )
    assert _rates(splits) == {"podinfo-primary": 40.0}


def test_the_routes_rate_is_shared_among_its_rules() -> None:
    route = _route(
        [_ref("podinfo-canary", 100)],
        [_ref("podinfo-primary", 100)],
        rate="40",
    )
    splits = splits_of_http_route(route)
    assert [s.name for s in splits] == ["podinfo/rule-0", "podinfo/rule-1"]
    assert _rates(splits) == {"podinfo": 20.0, "podinfo-primary": 20.0}
    # The default rate is shared the same way.
    assert sum(_rates(splits_of_http_route(_route(*route_rules(route)))).values()) == 20.0


def route_rules(route: dict[str, Any]) -> list[list[dict[str, Any]]]:
    return [rule["backendRefs"] for rule in route["spec"]["rules"]]


def test_refs_to_other_kinds_and_rules_without_services_are_left_out() -> None:
    route = _route(
        [
            _ref("podinfo-primary", 1),
            _ref("podinfo-canary", 1, group="multicluster.x-k8s.io", kind="ServiceImport"),
        ],
        [],
        rate="10",
    )
    [split] = splits_of_http_route(route)
    assert split.backends == (Backend("podinfo-primary", 1.0),)
    assert _rates([split]) == {"podinfo-primary": 10.0}


def test_a_ref_to_another_namespace_reaches_the_service_there() -> None:
    services = [*SERVICES, Service("other", "backend", {"app": "backend"})]
    workloads = [*WORKLOADS, _workload("backend", namespace="other")]
    route = _route([_ref("podinfo-primary", 1), _ref("backend", 3, namespace="other")], rate="8")
    result = plan(splits_of_http_route(route), services, workloads)
    assert {key: target.rate for key, target in result.items()} == {
        ("other", "backend"): 6.0,
        (NS, "podinfo-primary"): 2.0,
    }


def test_bad_weights_and_rates_are_reported_once_and_count_as_0() -> None:
    route = _route(
        [_ref("podinfo-primary", 1), _ref("podinfo-canary", "half")],
        [_ref("podinfo-primary", 1)],
        rate="fast",
    )
    first, second = splits_of_http_route(route)
    assert first.backends[1].weight == 0.0
    assert first.rate is None
    assert len(first.problems) == 2
    assert all(p.startswith("HTTPRoute shop/podinfo") for p in first.problems)
    assert second.problems == ()


def test_a_route_without_rules_is_no_split() -> None:
    assert splits_of_http_route({"metadata": {"name": "x"}, "spec": {}}) == []


def test_the_build_copies_the_standard_crds_the_sandbox_installs() -> None:
    names = [name.rsplit("/", 1)[-1] for name in crd_components.GATEWAY_API_CRD_FILES]
    assert names == [
        f"gateway.networking.k8s.io_{plural}.yaml"
        for plural in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants")
    ]
    files = crd_components.GATEWAY_API_CRD_FILES
    assert all(name.startswith("config/crd/standard/") for name in files)
    component = next(c for c in crd_components.CRD_COMPONENTS if c.name == "gateway-api")
    assert component.packages == ()
    assert component.upstream == "sigs.k8s.io/gateway-api"
    assert component.version == crd_components.GATEWAY_API_VERSION


def test_cached_gateway_api_crds_load_as_crds() -> None:
    built = binaries.cached_binaries(binaries.default_cache_root())
    if built is None:
        pytest.skip("the sandbox's binaries are not built")
    loaded = [crds.load(path) for path in built.gateway_api_crds]
    assert {m["metadata"]["name"] for m in loaded} == {
        f"{plural}.gateway.networking.k8s.io"
        for plural in ("gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants")
    }
    assert all(m["kind"] == "CustomResourceDefinition" for m in loaded)


def test_a_mirror_filter_copies_its_share_of_the_rules_requests_to_the_canary() -> None:
    route = _route([_ref("podinfo-primary", 100), _ref("podinfo-canary", 0)], rate="40")
    route["spec"]["rules"][0]["filters"] = [
        {
            "type": "RequestMirror",
            "requestMirror": {
                "backendRef": {"name": "podinfo-canary", "port": 9898},
                "percent": 25,
            },
        }
    ]
    [split] = splits_of_http_route(route)
    assert split.mirrors == (Backend(service="podinfo-canary", weight=0.25),)
    assert _rates([split]) == {"podinfo-primary": 40.0, "podinfo": 10.0}


def test_a_mirror_without_percent_copies_every_request() -> None:
    route = _route([_ref("podinfo-primary", 100)], rate="20")
    route["spec"]["rules"][0]["filters"] = [
        {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "podinfo-canary"}}}
    ]
    assert _rates(splits_of_http_route(route)) == {"podinfo-primary": 20.0, "podinfo": 20.0}
