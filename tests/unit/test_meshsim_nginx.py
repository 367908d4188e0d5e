"""The mesh simulator as ingress-nginx: an Ingress and its canary Ingress divide requests, and
the series carry the labels the `nginx` builtins select on."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from canary.kube.resources import CanaryRef
from canary.routers.base import RouteRef
from canary.routers.nginx import BY_HEADER, BY_HEADER_VALUE, canary_annotations, canary_ingress
from canary.sandbox.exporters.nginx import splits_of_ingresses
from canary.sandbox.meshsim import MeshCollector
from canary.sandbox.meshsim_model import Simulator, feeds, plan
from canary.sandbox.meshsim_objects import RATE_ANNOTATION, Behaviour, Service, Split, Workload

NS = "test"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nginx" / "ingress.yaml"
ROUTE = RouteRef(namespace=NS, apex="podinfo", owner=CanaryRef("podinfo", NS, "uid-1"))
SERVICES = [
    Service(NS, "podinfo", {"app": "podinfo-primary"}),
    Service(NS, "podinfo-primary", {"app": "podinfo-primary"}),
    Service(NS, "podinfo-canary", {"app": "podinfo"}),
]


def _main(rate: str = "40") -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"].update(
        namespace=NS,
        creationTimestamp="2026-12-01T00:00:00Z",
        annotations={RATE_ANNOTATION: rate},
    )
    return manifest


def _canary(weight: int, matches: dict[str, str] | None = None) -> dict[str, Any]:
    """The canary Ingress the router writes at `weight`."""
    return canary_ingress(_main(), ROUTE, annotations=canary_annotations(weight, matches or {}))


def _workload(name: str, behaviour: Behaviour | None = None) -> Workload:
    return Workload(
        namespace=NS,
        name=name,
        template_labels={"app": name},
        ready_replicas=1,
        behaviour=behaviour or Behaviour(error_rate=0.0, latency_ms=20.0),
    )


WORKLOADS = [_workload("podinfo-primary"), _workload("podinfo")]


def _rates(splits: list[Split]) -> dict[str, float]:
    return {name: t.rate for (_, name), t in plan(splits, SERVICES, WORKLOADS).items()}


def test_without_a_canary_ingress_the_ingress_sends_everything_to_its_service() -> None:
    assert _rates(splits_of_ingresses([_main()])) == {"podinfo-primary": 40.0}


def test_the_canary_weight_moves_requests_to_the_canary_service() -> None:
    splits = splits_of_ingresses([_main(), _canary(30)])
    rates = _rates(splits)
    assert rates["podinfo-primary"] == 28.0
    assert abs(rates["podinfo"] - 12.0) < 1e-9


def test_a_canary_ingress_that_is_off_takes_nothing() -> None:
    splits = splits_of_ingresses([_main(), _canary(0)])
    assert _rates(splits) == {"podinfo-primary": 40.0}


def test_an_ab_canary_takes_the_requests_that_carry_its_header() -> None:
    splits = splits_of_ingresses(
        [_main(), _canary(100, {BY_HEADER: "x-canary", BY_HEADER_VALUE: "insider"})]
    )
    assert _rates(splits) == {"podinfo-primary": 20.0, "podinfo": 20.0}


def test_only_ingresses_of_class_nginx_are_followed() -> None:
    other = copy.deepcopy(_main())
    other["spec"]["ingressClassName"] = "skipper"
    legacy = copy.deepcopy(_main())
    del legacy["spec"]["ingressClassName"]
    legacy["metadata"]["annotations"]["kubernetes.io/ingress.class"] = "nginx"
    assert splits_of_ingresses([other]) == []
    assert _rates(splits_of_ingresses([legacy])) == {"podinfo-primary": 40.0}


def test_of_two_ingresses_for_one_path_the_older_serves_it() -> None:
    newer = copy.deepcopy(_main(rate="10"))
    newer["metadata"].update(name="podinfo-2", creationTimestamp="2026-12-02T00:00:00Z")
    splits = splits_of_ingresses([newer, _main()])
    assert [s.route for s in splits] == ["podinfo"]


def test_a_bad_weight_is_reported_and_counts_as_0() -> None:
    canary = _canary(30)
    canary["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] = "lots"
    splits = splits_of_ingresses([_main(), canary])
    assert _rates(splits) == {"podinfo-primary": 40.0}
    assert any("canary-weight='lots'" in p for s in splits for p in s.problems)


def _scrape(simulator: Simulator) -> dict[str, list[Any]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MeshCollector(simulator))
    families = text_string_to_metric_families(generate_latest(registry).decode())
    return {family.name: family.samples for family in families}


def test_the_series_carry_the_ingress_and_mark_canary_requests() -> None:
    """What `nginx_ingress_controller_requests{ingress="podinfo", canary!=""}` reads: the
    requests the canary served through the canary Ingress, by status."""
    splits = splits_of_ingresses([_main(rate="20"), _canary(50)])
    workloads = [
        _workload("podinfo-primary"),
        _workload("podinfo", Behaviour(error_rate=0.5, latency_ms=300)),
    ]
    simulator = Simulator()
    simulator.set_plan(
        plan(splits, SERVICES, workloads),
        existing=[w.key for w in workloads],
        routes=feeds(splits, SERVICES, workloads),
    )
    simulator.advance(1.0)
    samples = _scrape(simulator)
    requests = {
        (s.labels["canary"], s.labels["service"], s.labels["status"]): s.value
        for s in samples["nginx_ingress_controller_requests"]
        if s.labels["ingress"] == "podinfo" and s.labels["namespace"] == NS
    }
    assert requests == {
        ("", "podinfo", "200"): 10.0,
        ("test-podinfo-canary", "podinfo-canary", "200"): 5.0,
        ("test-podinfo-canary", "podinfo-canary", "500"): 5.0,
    }
    durations = {
        (s.labels["canary"], s.labels.get("le")): s.value
        for s in samples["nginx_ingress_controller_response_duration_seconds"]
        if s.name.endswith("_bucket") or s.name.endswith("_count")
    }
    assert durations[("test-podinfo-canary", "+Inf")] == 10.0
    assert durations[("test-podinfo-canary", None)] == 10.0  # the _count
