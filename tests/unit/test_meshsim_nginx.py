"""The mesh simulator as ingress-nginx: an Ingress and its canary Ingress divide requests, and
the series carry the labels the `nginx` builtins select on."""

from __future__ import annotations

import copy
from typing import Any

from canary.kube.resources import CanaryRef
from canary.routers.base import RouteRef
from canary.routers.nginx import BY_HEADER, BY_HEADER_VALUE, canary_annotations, canary_ingress
from canary.sandbox.exporters.nginx import splits_of_ingresses
from canary.sandbox.meshsim_objects import Behaviour, Split
from tests.unit.meshsim_ingress import EXAMPLES, exported, main_ingress, rates_of

NS = "test"
EXAMPLE = EXAMPLES / "nginx" / "ingress.yaml"
ROUTE = RouteRef(namespace=NS, apex="podinfo", owner=CanaryRef("podinfo", NS, "uid-1"))


def _main(rate: str = "40") -> dict[str, Any]:
    manifest = main_ingress(EXAMPLE, NS, rate)
    manifest["metadata"]["creationTimestamp"] = "2026-12-01T00:00:00Z"
    return manifest


def _canary(weight: int, matches: dict[str, str] | None = None) -> dict[str, Any]:
    """The canary Ingress the router writes at `weight`."""
    return canary_ingress(_main(), ROUTE, annotations=canary_annotations(weight, matches or {}))


def _rates(splits: list[Split]) -> dict[str, float]:
    return rates_of(splits, NS)


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


def test_an_ingress_of_class_nginx_by_the_legacy_annotation_is_followed() -> None:
    """(One of another class is not: test_meshsim_ingress.py.)"""
    legacy = copy.deepcopy(_main())
    del legacy["spec"]["ingressClassName"]
    legacy["metadata"]["annotations"]["kubernetes.io/ingress.class"] = "nginx"
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


def test_the_series_carry_the_ingress_and_mark_canary_requests() -> None:
    """What `nginx_ingress_controller_requests{ingress="podinfo", canary!=""}` reads: the
    requests the canary served through the canary Ingress, by status."""
    splits = splits_of_ingresses([_main(rate="20"), _canary(50)])
    samples = exported(splits, NS, canary=Behaviour(error_rate=0.5, latency_ms=300))
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
