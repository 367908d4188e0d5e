"""The mesh simulator's Knative provider: traffic blocks read as splits, Envoy series per
Revision."""

from __future__ import annotations

from typing import Any

from canary.sandbox.exporters.base import Traffic
from canary.sandbox.exporters.knative import KIND, PROVIDER, splits_of_service
from canary.sandbox.meshsim_exposition import render
from canary.sandbox.meshsim_model import Feed, Series
from canary.sandbox.meshsim_objects import Backend


def _service(traffic: list[dict[str, Any]] | None, **annotations: str) -> dict[str, Any]:
    spec = {"traffic": traffic} if traffic is not None else {}
    return {
        "metadata": {"name": "podinfo", "namespace": "shop", "annotations": annotations},
        "spec": spec,
        "status": {
            "latestCreatedRevisionName": "podinfo-00003",
            "latestReadyRevisionName": "podinfo-00002",
        },
    }


def test_the_traffic_block_splits_among_the_revisions_private_services() -> None:
    [split] = splits_of_service(
        _service(
            [
                {"latestRevision": True, "percent": 30},
                {"revisionName": "podinfo-00001", "percent": 70},
            ],
            **{"meshsim.canary.dev/rate": "40"},
        )
    )
    assert split.kind == KIND
    assert (split.namespace, split.apex, split.rate) == ("shop", "podinfo", 40.0)
    # latestRevision is the latest *ready* Revision, as Knative routes it.
    assert split.backends == (
        Backend("podinfo-00002-private", 30.0),
        Backend("podinfo-00001-private", 70.0),
    )


def test_without_a_traffic_block_everything_goes_to_the_latest_ready_revision() -> None:
    [split] = splits_of_service(_service(None))
    assert split.backends == (Backend("podinfo-00002-private", 100.0),)


def test_a_bad_rate_is_reported_and_zero_percent_entries_are_left_out() -> None:
    [split] = splits_of_service(
        _service(
            [{"latestRevision": True, "percent": 0}, {"revisionName": "a", "percent": 100}],
            **{"meshsim.canary.dev/rate": "fast"},
        )
    )
    assert split.backends == (Backend("a-private", 100.0),)
    assert split.rate is None
    assert "annotation meshsim.canary.dev/rate" in split.problems[0]


def _exposed(traffic: Traffic) -> str:
    return render(traffic, [PROVIDER])


def test_envoy_series_are_labelled_by_the_revisions_cluster() -> None:
    feed = Feed(KIND, "podinfo", "shop", "podinfo-00002-private", "shop", 10.0)
    other = Feed("TrafficSplit", "web", "shop", "web-primary", "shop", 10.0)
    series = Series(successes=8, failures=2)
    traffic = Traffic(
        series={
            ("shop", "podinfo-00002-deployment"): series,
            ("shop", "podinfo-00001-deployment"): Series(successes=5),  # at 0%: no feed now
            ("shop", "web-primary"): Series(successes=3),
            ("shop", "web-deployment"): Series(successes=3),  # fed by another provider only
        },
        routes={
            ("shop", "podinfo-00002-deployment"): (feed,),
            ("shop", "web-primary"): (other,),
            ("shop", "web-deployment"): (other,),
        },
        pod_name=lambda key: key[1],
    )
    text = _exposed(traffic)
    assert (
        'envoy_cluster_upstream_rq{envoy_cluster_name="shop/podinfo-00002",'
        'envoy_response_code="200"} 8.0'
    ) in text
    assert (
        'envoy_cluster_upstream_rq{envoy_cluster_name="shop/podinfo-00002",'
        'envoy_response_code="500"} 2.0'
    ) in text
    assert 'envoy_cluster_name="shop/podinfo-00001",envoy_response_code="200"} 5.0' in text
    assert 'envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="shop/podinfo-00002"' in text
    assert "shop/web" not in text
    assert "envoy_cluster_upstream_rq_total" not in text  # Envoy's name, without `_total`
    assert "# TYPE envoy_cluster_upstream_rq untyped" in text
