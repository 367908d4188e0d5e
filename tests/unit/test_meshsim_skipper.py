"""The mesh simulator as Skipper: the canary Ingress's weighted routes win over the user's
Ingress while on, and the series carry the route ids the `skipper` builtins select on."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from canary.kube.resources import CanaryRef
from canary.metrics.checks import render_query
from canary.metrics.inputs import CanaryContext, MetricSpec
from canary.routers.base import RouteRef
from canary.routers.skipper import WEIGHTS, canary_ingress
from canary.sandbox.exporters.skipper import route_id, splits_of_ingresses
from canary.sandbox.meshsim import MeshCollector
from canary.sandbox.meshsim_model import Simulator, feeds, plan
from canary.sandbox.meshsim_objects import RATE_ANNOTATION, Behaviour, Service, Split, Workload

NS = "test-ns"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "skipper" / "ingress.yaml"
ROUTE = RouteRef(namespace=NS, apex="podinfo", owner=CanaryRef("podinfo", NS, "uid-1"))
SERVICES = [
    Service(NS, "podinfo", {"app": "podinfo-primary"}),
    Service(NS, "podinfo-primary", {"app": "podinfo-primary"}),
    Service(NS, "podinfo-canary", {"app": "podinfo"}),
]


def _main(rate: str = "40") -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"].update(namespace=NS, annotations={RATE_ANNOTATION: rate})
    return manifest


def _canary(canary: int, rate: str = "40") -> dict[str, Any]:
    return canary_ingress(_main(rate), ROUTE, primary=100 - canary, canary=canary)


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


def test_the_users_ingress_alone_sends_everything_to_its_service() -> None:
    assert _rates(splits_of_ingresses([_main()])) == {"podinfo-primary": 40.0}


def test_the_canary_ingress_wins_while_on_and_divides_by_backend_weights() -> None:
    rates = _rates(splits_of_ingresses([_main(), _canary(25)]))
    assert rates == {"podinfo-primary": 30.0, "podinfo": 10.0}


def test_a_canary_ingress_that_is_off_leaves_the_users_ingress_serving() -> None:
    splits = splits_of_ingresses([_canary(0), _main()])
    assert [s.route for s in splits] == ["podinfo"]
    assert _rates(splits) == {"podinfo-primary": 40.0}


def test_only_ingresses_of_class_skipper_are_followed_and_bad_weights_are_reported() -> None:
    nginx = copy.deepcopy(_main())
    nginx["spec"]["ingressClassName"] = "nginx"
    assert splits_of_ingresses([nginx]) == []
    canary = _canary(25)
    canary["metadata"]["annotations"][WEIGHTS] = "[1, 2"
    splits = splits_of_ingresses([_main(), canary])
    assert _rates(splits) == {"podinfo-primary": 20.0, "podinfo": 20.0}  # equal, as Skipper
    assert any(WEIGHTS in p for s in splits for p in s.problems)


def test_the_series_carry_the_route_id_the_builtins_select() -> None:
    splits = splits_of_ingresses([_main(rate="20"), _canary(50, rate="20")])
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
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MeshCollector(simulator))
    families = text_string_to_metric_families(generate_latest(registry).decode())
    samples = {family.name: family.samples for family in families}
    canary_route = route_id(NS, "podinfo-canary", "podinfo-canary")
    totals = {
        (s.labels["route"], s.labels["code"]): s.value
        for s in samples["skipper_response_duration_seconds"]
        if s.name.endswith("_bucket") and s.labels["le"] == "+Inf"
    }
    assert totals == {
        (route_id(NS, "podinfo-canary", "podinfo-primary"), "200"): 10.0,
        (canary_route, "200"): 5.0,
        (canary_route, "500"): 5.0,
    }
    query = render_query(
        MetricSpec(name="request-success-rate"),
        context=CanaryContext(
            name="podinfo", namespace=NS, target="podinfo", ingress="podinfo", provider="skipper"
        ),
    )
    selector = re.search(r'route=~"([^"]+)"', query)
    assert selector is not None
    matched = {route for route, _ in totals if re.fullmatch(selector.group(1), route)}
    assert matched == {canary_route}
