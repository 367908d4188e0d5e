"""The mesh simulator's Traefik: TraefikServices read as splits (weighted and mirroring), and
the per-service series Traefik would export, under the labels the `traefik` builtins select."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from canary.routers.base import RouteRef
from canary.routers.settings import RouteSettings
from canary.routers.traefik import traefik_service
from canary.sandbox.exporters.base import Traffic
from canary.sandbox.exporters.registry import PROVIDERS
from canary.sandbox.exporters.traefik import PROVIDER, splits_of_traefik_service
from canary.sandbox.meshsim_exposition import render
from canary.sandbox.meshsim_model import Feed, Series, feeds, plan
from canary.sandbox.meshsim_objects import Backend, Behaviour, Service, Split, Workload

NS = "test"
ROUTE = RouteRef(namespace=NS, apex="podinfo", owner=None)


def _written(primary: int, canary: int, *, mirror: bool = False, port: int = 80) -> dict[str, Any]:
    """The TraefikService the `traefik` router writes."""
    settings = RouteSettings(provider="traefik", port=port)
    return traefik_service(
        ROUTE, settings, primary_weight=primary, canary_weight=canary, mirror=mirror
    )


def test_the_simulator_follows_traefik_services() -> None:
    assert PROVIDER in PROVIDERS
    (source,) = PROVIDER.routes
    assert (source.kind.api_version, source.kind.plural) == (
        "traefik.io/v1alpha1",
        "traefikservices",
    )


def test_a_weighted_traefik_service_splits_by_weight_on_its_port() -> None:
    (split,) = splits_of_traefik_service(_written(70, 30, port=9898))
    assert split == Split(
        namespace=NS,
        name="podinfo",
        apex="podinfo",
        backends=(
            Backend("podinfo-primary", 70.0, namespace=NS, port=9898),
            Backend("podinfo-canary", 30.0, namespace=NS, port=9898),
        ),
        kind="TraefikService",
        route="podinfo",
    )


def test_a_mirroring_traefik_service_copies_a_share_to_its_mirrors() -> None:
    (split,) = splits_of_traefik_service(_written(100, 0, mirror=True))
    assert split.backends == (Backend("podinfo-primary", 1.0, namespace=NS, port=80),)
    assert split.mirrors == (Backend("podinfo-canary", 1.0, namespace=NS, port=80),)


def test_weights_default_to_1_and_bad_ones_are_reported() -> None:
    manifest = {
        "metadata": {
            "name": "web",
            "namespace": NS,
            "annotations": {"meshsim.canary.dev/rate": "5"},
        },
        "spec": {
            "weighted": {
                "services": [
                    {"name": "a", "port": 80},
                    {"name": "b", "port": 80, "weight": "lots"},
                    {"name": "nested", "kind": "TraefikService"},
                ]
            }
        },
    }
    (split,) = splits_of_traefik_service(manifest)
    assert split.rate == 5.0
    assert [(b.service, b.weight) for b in split.backends] == [("a", 1.0), ("b", 0.0)]
    assert len(split.problems) == 1
    assert "service b" in split.problems[0]
    assert splits_of_traefik_service({"metadata": {"name": "x"}, "spec": {}}) == []


def _workload(name: str) -> Workload:
    return Workload(
        namespace=NS,
        name=name,
        template_labels={"app": name},
        ready_replicas=1,
        behaviour=Behaviour(),
    )


def test_each_workload_is_fed_through_its_service_and_port() -> None:
    splits = splits_of_traefik_service(_written(90, 10))
    services = [
        Service(NS, "podinfo-primary", {"app": "podinfo-primary"}),
        Service(NS, "podinfo-canary", {"app": "podinfo"}),
    ]
    workloads = [_workload("podinfo-primary"), _workload("podinfo")]
    rates = plan(splits, services, workloads, default_rate=20.0)
    assert rates[(NS, "podinfo")].rate == 2.0
    found = feeds(splits, services, workloads, default_rate=20.0)
    assert found[(NS, "podinfo")] == (
        Feed("TraefikService", "podinfo", NS, "podinfo-canary", NS, 2.0, port=80),
    )


def _metrics(traffic: Traffic) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(render(traffic, [PROVIDER])):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_the_exporter_writes_traefiks_series_under_the_canary_services_name() -> None:
    canary = Series(successes=9, failures=1)
    canary.buckets[6] = 10  # 10 requests at <= 20 ms
    canary.failure_buckets[6] = 1
    primary = Series(successes=5)
    traffic = Traffic(
        series={(NS, "podinfo"): canary, (NS, "podinfo-primary"): primary, (NS, "other"): primary},
        routes={
            (NS, "podinfo"): (
                Feed("TraefikService", "podinfo", NS, "podinfo-canary", NS, 2.0, port=80),
            ),
            (NS, "podinfo-primary"): (
                Feed("HTTPRoute", "podinfo", NS, "podinfo-primary", NS, 1.0),
                Feed("TraefikService", "podinfo", NS, "podinfo-primary", NS, 1.0, port=80),
            ),
            (NS, "other"): (Feed("HTTPRoute", "other", NS, "other", NS, 1.0),),
        },
        pod_name=lambda key: key[1],
    )
    metrics = _metrics(traffic)
    requests = metrics["traefik_service_requests_total"]
    canary_service = ("service", "test-podinfo-canary-80@kubernetescrd")
    assert requests == {
        (("code", "200"), ("method", "GET"), ("protocol", "http"), canary_service): 9,
        (("code", "500"), ("method", "GET"), ("protocol", "http"), canary_service): 1,
        (
            ("code", "200"),
            ("method", "GET"),
            ("protocol", "http"),
            ("service", "test-podinfo-primary-80@kubernetescrd"),
        ): 5,
    }
    buckets = metrics["traefik_service_request_duration_seconds_bucket"]
    ok = (("code", "200"), ("le", "+Inf"), ("method", "GET"), ("protocol", "http"), canary_service)
    failed = (
        ("code", "500"),
        ("le", "+Inf"),
        ("method", "GET"),
        ("protocol", "http"),
        canary_service,
    )
    assert buckets[ok] == 9
    assert buckets[failed] == 1
    assert (
        buckets[
            (
                ("code", "200"),
                ("le", "0.02"),
                ("method", "GET"),
                ("protocol", "http"),
                canary_service,
            )
        ]
        == 9
    )
