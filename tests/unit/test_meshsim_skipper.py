"""The mesh simulator as Skipper: the canary Ingress's weighted routes win over the user's
Ingress while on, and the series carry the route ids the `skipper` builtins select on."""

from __future__ import annotations

import re
from typing import Any

from canary.kube.resources import CanaryRef
from canary.metrics.checks import render_query
from canary.metrics.inputs import CanaryContext, MetricSpec
from canary.routers.base import RouteRef
from canary.routers.skipper import WEIGHTS, canary_ingress
from canary.sandbox.exporters.skipper import route_id, splits_of_ingresses
from canary.sandbox.meshsim_objects import Behaviour, Split
from tests.unit.meshsim_ingress import EXAMPLES, exported, main_ingress, rates_of

NS = "test-ns"
EXAMPLE = EXAMPLES / "skipper" / "ingress.yaml"
ROUTE = RouteRef(namespace=NS, apex="podinfo", owner=CanaryRef("podinfo", NS, "uid-1"))


def _main(rate: str = "40") -> dict[str, Any]:
    return main_ingress(EXAMPLE, NS, rate)


def _canary(canary: int, rate: str = "40") -> dict[str, Any]:
    return canary_ingress(_main(rate), ROUTE, primary=100 - canary, canary=canary)


def _rates(splits: list[Split]) -> dict[str, float]:
    return rates_of(splits, NS)


def test_the_canary_ingress_wins_while_on_and_divides_by_backend_weights() -> None:
    rates = _rates(splits_of_ingresses([_main(), _canary(25)]))
    assert rates == {"podinfo-primary": 30.0, "podinfo": 10.0}


def test_a_canary_ingress_that_is_off_leaves_the_users_ingress_serving() -> None:
    splits = splits_of_ingresses([_canary(0), _main()])
    assert [s.route for s in splits] == ["podinfo"]
    assert _rates(splits) == {"podinfo-primary": 40.0}


def test_bad_backend_weights_are_reported_and_divide_equally() -> None:
    """(An Ingress of class nginx is not followed: test_meshsim_ingress.py.)"""
    canary = _canary(25)
    canary["metadata"]["annotations"][WEIGHTS] = "[1, 2"
    splits = splits_of_ingresses([_main(), canary])
    assert _rates(splits) == {"podinfo-primary": 20.0, "podinfo": 20.0}  # equal, as Skipper
    assert any(WEIGHTS in p for s in splits for p in s.problems)


def test_the_series_carry_the_route_id_the_builtins_select() -> None:
    splits = splits_of_ingresses([_main(rate="20"), _canary(50, rate="20")])
    samples = exported(splits, NS, canary=Behaviour(error_rate=0.5, latency_ms=300))
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
