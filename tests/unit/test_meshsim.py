"""The mesh simulator's arithmetic: weights, quantities, selectors, annotations, exact counts."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from canary.kube.client import ApiClient
from canary.kube.resources import DEPLOYMENT, SERVICE, TRAFFIC_SPLIT
from canary.kube.watch import WatchEvent
from canary.sandbox import cluster, components, crds
from canary.sandbox.configs import ScrapeJob, write_prometheus_config
from canary.sandbox.exporters.registry import PROVIDERS
from canary.sandbox.meshsim import Follower, describe_changes, parse_arguments, traffic
from canary.sandbox.meshsim_exposition import render
from canary.sandbox.meshsim_model import (
    LATENCY_BUCKETS_MS,
    Accumulator,
    Simulator,
    Target,
    plan,
    pod_name,
)
from canary.sandbox.meshsim_objects import (
    LATENCY_ANNOTATION,
    Backend,
    Behaviour,
    Service,
    Split,
    Workload,
    parse_error_rate,
    parse_latency_ms,
    parse_quantity,
    parse_rate,
    parse_weight,
    selects,
)
from canary.sandbox.state import Ports, SandboxState

NS = "shop"


def _deployment(
    name: str,
    *,
    labels: dict[str, str] | None = None,
    ready: int = 1,
    pod_annotations: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    namespace: str = NS,
) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
        "spec": {
            "template": {
                "metadata": {
                    "labels": labels if labels is not None else {"app": name},
                    "annotations": pod_annotations or {},
                }
            }
        },
        "status": {"readyReplicas": ready} if ready else {},
    }


def _service(name: str, app: str) -> Service:
    return Service(namespace=NS, name=name, selector={"app": app})


def _split(
    primary: float, canary: float, *, rate: float | None = None, apex: str = "podinfo"
) -> Split:
    backends = (Backend("podinfo-primary", primary), Backend("podinfo-canary", canary))
    return Split(namespace=NS, name=apex, apex=apex, backends=backends, rate=rate)


SERVICES = [
    _service("podinfo", "podinfo-primary"),
    _service("podinfo-primary", "podinfo-primary"),
    _service("podinfo-canary", "podinfo"),
]


def _rates(result: Mapping[tuple[str, str], Target]) -> dict[str, float]:
    return {name: target.rate for (_, name), target in result.items()}


# --- quantities and annotations


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (90, 90.0),
        ("90", 90.0),
        ("500m", 0.5),
        ("1k", 1000.0),
        ("1Ki", 1024.0),
        ("1.5", 1.5),
        ("2e2", 200.0),
        (" 7 ", 7.0),
        (0, 0.0),
    ],
)
def test_quantities_parse_like_kubernetes(value: object, expected: float) -> None:
    assert parse_quantity(value) == pytest.approx(expected)


@pytest.mark.parametrize("value", ["", "ninety", "5 m", "1x", None, True, [1], "nan"])
def test_non_quantities_are_rejected(value: object) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(value)


def test_a_negative_weight_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_weight("-1")


@pytest.mark.parametrize(
    ("parse", "good", "bad"),
    [
        (parse_rate, {"0": 0.0, "20": 20.0, "2.5": 2.5}, ["-1", "inf", "x"]),
        (parse_error_rate, {"0": 0.0, "0.5": 0.5, "1": 1.0}, ["1.5", "-0.1", "nan", "half"]),
        (parse_latency_ms, {"300": 300.0, "0.5": 0.5}, ["0", "-3", "inf", ""]),
    ],
)
def test_annotation_values_parse_within_their_range(
    parse: Callable[[str], float], good: dict[str, float], bad: list[str]
) -> None:
    for text, expected in good.items():
        assert parse(text) == expected
    for text in bad:
        with pytest.raises(ValueError, match=r"."):
            parse(text)


def test_a_deployment_reads_its_behaviour_from_the_pod_template() -> None:
    workload = Workload.from_manifest(
        _deployment(
            "podinfo",
            ready=2,
            pod_annotations={
                "meshsim.canary.dev/error-rate": "0.5",
                "meshsim.canary.dev/latency-ms": "300",
            },
        )
    )
    assert workload.behaviour == Behaviour(error_rate=0.5, latency_ms=300.0)
    assert (workload.key, workload.ready_replicas, workload.direct_rate) == (
        (NS, "podinfo"),
        2,
        None,
    )
    assert workload.problems == ()


def test_annotations_on_the_deployment_itself_do_not_set_behaviour() -> None:
    manifest = _deployment("podinfo", annotations={"meshsim.canary.dev/error-rate": "1"})
    assert Workload.from_manifest(manifest).behaviour == Behaviour(0.0, 20.0)


def test_bad_annotations_fall_back_to_defaults_and_are_reported() -> None:
    workload = Workload.from_manifest(
        _deployment(
            "podinfo",
            pod_annotations={
                "meshsim.canary.dev/error-rate": "2",
                "meshsim.canary.dev/latency-ms": "fast",
            },
            annotations={"meshsim.canary.dev/rate": "-5"},
        )
    )
    assert workload.behaviour == Behaviour(error_rate=0.0, latency_ms=20.0)
    assert workload.direct_rate is None
    assert len(workload.problems) == 3
    assert all("Deployment shop/podinfo" in p for p in workload.problems)


def test_a_direct_rate_may_be_a_label_or_an_annotation() -> None:
    labelled = _deployment("a")
    labelled["metadata"]["labels"] = {"meshsim.canary.dev/rate": "7"}
    annotated = _deployment("b", annotations={"meshsim.canary.dev/rate": "2.5"})
    assert Workload.from_manifest(labelled).direct_rate == 7.0
    assert Workload.from_manifest(annotated).direct_rate == 2.5


def test_a_missing_status_means_no_ready_replicas() -> None:
    assert Workload.from_manifest(_deployment("podinfo", ready=0)).ready_replicas == 0


def test_a_v1alpha1_split_reads_quantity_weights_and_its_rate_annotation() -> None:
    split = Split.from_manifest(
        {
            "metadata": {
                "name": "podinfo",
                "namespace": NS,
                "annotations": {"meshsim.canary.dev/rate": "40"},
            },
            "spec": {
                "service": "podinfo",
                "backends": [
                    {"service": "podinfo-primary", "weight": "900m"},
                    {"service": "podinfo-canary", "weight": "100m"},
                ],
            },
        }
    )
    assert split.apex == "podinfo"
    assert split.rate == 40.0
    assert split.backends == (Backend("podinfo-primary", 0.9), Backend("podinfo-canary", 0.1))


def test_an_unreadable_weight_counts_as_zero_and_is_reported() -> None:
    split = Split.from_manifest(
        {
            "metadata": {"name": "s", "namespace": NS},
            "spec": {"service": "s", "backends": [{"service": "x", "weight": "lots"}]},
        }
    )
    assert split.backends == (Backend("x", 0.0),)
    assert split.rate is None
    assert len(split.problems) == 1


# --- selectors and the plan


def test_a_selector_needs_all_its_labels_and_an_empty_one_selects_nothing() -> None:
    assert selects({"app": "a"}, {"app": "a", "version": "1"})
    assert not selects({"app": "a", "version": "2"}, {"app": "a", "version": "1"})
    assert not selects({"app": "a"}, {"app": "b"})
    assert not selects({}, {"app": "a"})


def test_the_rate_is_divided_by_weight() -> None:
    workloads = [
        Workload.from_manifest(_deployment("podinfo-primary")),
        Workload.from_manifest(_deployment("podinfo")),
    ]
    result = plan([_split(80, 20)], SERVICES, workloads, default_rate=50)
    assert _rates(result) == pytest.approx({"podinfo-primary": 40.0, "podinfo": 10.0})


def test_the_split_annotation_overrides_the_default_rate() -> None:
    workloads = [
        Workload.from_manifest(_deployment("podinfo-primary")),
        Workload.from_manifest(_deployment("podinfo")),
    ]
    result = plan([_split(50, 50, rate=8)], SERVICES, workloads, default_rate=50)
    assert _rates(result) == pytest.approx({"podinfo-primary": 4.0, "podinfo": 4.0})


def test_a_zero_weight_or_unready_backend_gets_nothing_and_its_share_is_lost() -> None:
    workloads = [
        Workload.from_manifest(_deployment("podinfo-primary")),
        Workload.from_manifest(_deployment("podinfo", ready=0)),
    ]
    assert _rates(plan([_split(50, 50)], SERVICES, workloads, default_rate=20)) == {
        "podinfo-primary": 10.0
    }
    ready = [*workloads[:1], Workload.from_manifest(_deployment("podinfo"))]
    assert _rates(plan([_split(100, 0)], SERVICES, ready, default_rate=20)) == {
        "podinfo-primary": 20.0
    }


def test_behaviour_travels_with_the_deployment() -> None:
    canary = _deployment("podinfo", pod_annotations={"meshsim.canary.dev/error-rate": "0.25"})
    workloads = [
        Workload.from_manifest(_deployment("podinfo-primary")),
        Workload.from_manifest(canary),
    ]
    result = plan([_split(50, 50)], SERVICES, workloads)
    assert result[(NS, "podinfo")].behaviour.error_rate == 0.25
    assert result[(NS, "podinfo-primary")].behaviour.error_rate == 0.0


def test_a_backend_matching_several_deployments_splits_by_ready_replicas() -> None:
    services = [Service(NS, "web", {"tier": "web"})]
    workloads = [
        Workload.from_manifest(_deployment("blue", labels={"tier": "web"}, ready=3)),
        Workload.from_manifest(_deployment("green", labels={"tier": "web"}, ready=1)),
    ]
    split = Split(NS, "web", "web", (Backend("web", 1),))
    assert _rates(plan([split], services, workloads, default_rate=20)) == {
        "blue": 15.0,
        "green": 5.0,
    }


def test_other_namespaces_missing_services_and_zero_total_weight_send_nothing() -> None:
    elsewhere = Workload.from_manifest(_deployment("podinfo", namespace="other"))
    missing = Split(NS, "x", "x", (Backend("no-such-service", 1),))
    all_zero = _split(0, 0)
    assert plan([_split(0, 100), missing, all_zero], SERVICES, [elsewhere]) == {}


def test_a_deployment_with_a_direct_rate_gets_it_unless_a_split_routes_to_it() -> None:
    annotated = {"meshsim.canary.dev/rate": "5"}
    workloads = [
        Workload.from_manifest(_deployment("loner", annotations=annotated)),
        Workload.from_manifest(_deployment("idle")),
        Workload.from_manifest(_deployment("asleep", ready=0, annotations=annotated)),
        Workload.from_manifest(_deployment("podinfo", annotations=annotated)),
        Workload.from_manifest(_deployment("podinfo-primary")),
    ]
    result = plan([_split(100, 0)], SERVICES, workloads, default_rate=20)
    assert _rates(result) == {"loner": 5.0, "podinfo-primary": 20.0}


# --- counting


def test_fractional_accumulation_loses_no_request() -> None:
    accumulator = Accumulator()
    taken = [accumulator.take(0.3) for _ in range(100)]
    assert sum(taken) == 30
    assert set(taken) == {0, 1}


@pytest.mark.parametrize("rate", [20.0, 7.3, 0.5, 1000.0])
def test_counts_follow_the_rate_exactly_over_uneven_ticks(rate: float) -> None:
    simulator = Simulator()
    simulator.set_plan({(NS, "a"): Target(rate, Behaviour())}, existing=[(NS, "a")])
    ticks = [0.25, 0.26, 0.24, 0.31, 0.19] * 40  # 50 s of ticks
    for seconds in ticks:
        simulator.advance(seconds)
    series = simulator.series()[(NS, "a")]
    assert abs(series.count - rate * sum(ticks)) <= 1
    assert series.failures == 0


@pytest.mark.parametrize("error_rate", [0.5, 0.1, 1.0, 0.0])
def test_failures_are_the_error_rate_of_requests(error_rate: float) -> None:
    simulator = Simulator()
    target = Target(20.0, Behaviour(error_rate=error_rate))
    simulator.set_plan({(NS, "a"): target}, existing=[])
    for _ in range(200):
        simulator.advance(0.25)
    series = simulator.series()[(NS, "a")]
    assert series.count == 1000
    assert abs(series.failures - 1000 * error_rate) <= 1


def test_latencies_land_in_buckets_around_the_mean() -> None:
    simulator = Simulator()
    simulator.set_plan({(NS, "slow"): Target(1000.0, Behaviour(latency_ms=300))}, existing=[])
    simulator.advance(10.0)
    series = simulator.series()[(NS, "slow")]
    assert series.latency_sum_ms / series.count == pytest.approx(300, rel=0.05)
    cumulative = dict(series.cumulative())
    assert len(cumulative) == len(LATENCY_BUCKETS_MS) + 1
    assert cumulative["+Inf"] == series.count == 10000
    assert cumulative["100"] < 0.01 * series.count  # hardly anything under a third of the mean
    assert 0.95 * series.count < cumulative["1000"] < series.count  # p99 within 500..1000 ms
    assert cumulative["500"] < 0.99 * series.count
    counts = [count for _, count in series.cumulative()]
    assert counts == sorted(counts)


def test_the_same_seed_draws_the_same_latencies() -> None:
    def run(seed: int) -> float:
        simulator = Simulator(seed=seed)
        simulator.set_plan({(NS, "a"): Target(100.0, Behaviour())}, existing=[])
        simulator.advance(1.0)
        return simulator.series()[(NS, "a")].latency_sum_ms

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_no_traffic_means_no_series_and_deleted_deployments_are_forgotten() -> None:
    simulator = Simulator()
    busy, idle = (NS, "busy"), (NS, "idle")
    simulator.set_plan({busy: Target(4.0, Behaviour())}, existing=[busy, idle])
    simulator.advance(1.0)
    assert set(simulator.series()) == {busy}
    # No longer routed to, but still there: its counters stay (and stop moving).
    simulator.set_plan({}, existing=[busy, idle])
    simulator.advance(1.0)
    assert simulator.series()[busy].count == 4
    simulator.set_plan({}, existing=[idle])
    assert simulator.series() == {}


# --- exposition and sandbox wiring


def _scrape(simulator: Simulator) -> dict[str, list[Any]]:
    families = text_string_to_metric_families(render(traffic(simulator), PROVIDERS))
    return {family.name: family.samples for family in families}


def test_metrics_carry_linkerd_names_and_labels() -> None:
    simulator = Simulator()
    simulator.set_plan(
        {(NS, "podinfo"): Target(20.0, Behaviour(error_rate=0.5, latency_ms=300))}, existing=[]
    )
    simulator.advance(1.0)
    samples = _scrape(simulator)
    responses = {
        (s.labels["classification"], s.labels["status_code"]): s.value
        for s in samples["response"]
        if s.name == "response_total"
    }
    assert responses == {("success", "200"): 10.0, ("failure", "500"): 10.0}
    expected = {"namespace": NS, "deployment": "podinfo", "direction": "inbound"}
    for sample in samples["response"]:
        assert {k: sample.labels[k] for k in expected} == expected
    names = {s.name for s in samples["response_latency_ms"]}
    assert names == {
        "response_latency_ms_bucket",
        "response_latency_ms_sum",
        "response_latency_ms_count",
    }
    count = next(s for s in samples["response_latency_ms"] if s.name.endswith("_count"))
    assert count.value == 20.0
    assert count.labels == expected
    assert [s.value for s in samples["request"] if s.name == "request_total"] == [20.0]


def test_the_application_histogram_has_flagger_pod_labels_and_a_series_per_status() -> None:
    """What Flagger's builtins for kubernetes and gatewayapi:* read: podinfo's
    http_request_duration_seconds, by status, labelled with the pod's namespace and name."""
    simulator = Simulator()
    simulator.set_plan(
        {(NS, "podinfo"): Target(20.0, Behaviour(error_rate=0.5, latency_ms=300))}, existing=[]
    )
    simulator.advance(1.0)
    samples = _scrape(simulator)["http_request_duration_seconds"]
    pod = pod_name(NS, "podinfo")
    assert re.fullmatch("podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)", pod)
    counts = {
        s.labels["status"]: s.value
        for s in samples
        if s.name == "http_request_duration_seconds_count"
    }
    assert counts == {"200": 10.0, "500": 10.0}
    for sample in samples:
        assert sample.labels["kubernetes_namespace"] == NS
        assert sample.labels["kubernetes_pod_name"] == pod
    linkerd = {
        s.labels["le"]: s.value
        for s in _scrape(simulator)["response_latency_ms"]
        if s.name == "response_latency_ms_bucket"
    }
    seconds: dict[str, float] = {}
    for sample in samples:
        if sample.name == "http_request_duration_seconds_bucket":
            le = sample.labels["le"]
            seconds[le] = seconds.get(le, 0.0) + sample.value
    # The same requests in the same buckets, bounds in seconds instead of milliseconds.
    assert seconds["0.3"] == linkerd["300"]
    assert seconds["+Inf"] == linkerd["+Inf"] == 20.0


def test_a_healthy_version_exports_no_failure_series() -> None:
    simulator = Simulator()
    simulator.set_plan({(NS, "podinfo"): Target(20.0, Behaviour())}, existing=[])
    simulator.advance(1.0)
    classes = {s.labels["classification"] for s in _scrape(simulator)["response"]}
    assert classes == {"success"}


def test_an_idle_simulator_exports_no_series() -> None:
    samples = _scrape(Simulator())
    assert all(not values for values in samples.values())


def test_the_simulator_runs_as_a_module_of_this_interpreter(tmp_path: Path) -> None:
    ports = Ports.from_list(list(range(41000, 41000 + Ports.count())))
    argv = components.meshsim(None, ports, components.Layout(tmp_path))  # type: ignore[arg-type]
    assert argv[:3] == [sys.executable, "-m", "canary.sandbox.meshsim"]
    arguments = parse_arguments(argv[3:])
    assert arguments.port == ports.meshsim
    assert arguments.kubeconfig == tmp_path / "kubeconfig"
    assert arguments.rate == 20.0
    assert math.isclose(parse_arguments([*argv[3:], "--rate", "5"]).rate, 5.0)


def test_the_meshsim_job_is_scraped_faster_than_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    write_prometheus_config(
        path,
        jobs=[
            ScrapeJob("prometheus", "127.0.0.1:1"),
            ScrapeJob("meshsim", "127.0.0.1:2", interval="1s"),
        ],
    )
    config = yaml.safe_load(path.read_text())
    assert config["global"]["scrape_interval"] == "5s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "scrape_interval" not in jobs["prometheus"]
    assert jobs["meshsim"]["scrape_interval"] == "1s"
    assert jobs["meshsim"]["scrape_timeout"] == "1s"
    assert jobs["meshsim"]["static_configs"] == [{"targets": ["127.0.0.1:2"]}]


def test_a_sandbox_recorded_without_the_mesh_simulator_is_not_up(tmp_path: Path) -> None:
    outdated = SandboxState(
        directory=str(tmp_path),
        ports=Ports(*range(42000, 42007)),  # the seven ports of an older record
        kubeconfig=str(tmp_path / "kubeconfig"),
        prometheus_url="http://127.0.0.1:42006",
        bin_dirs=(),
        kubernetes_version="v1.36.3",
        ready=True,
    )
    outdated.save()
    loaded = SandboxState.load(tmp_path)
    assert loaded is not None
    assert loaded.ports.meshsim == 0
    assert not cluster.is_up(loaded)


def test_the_traffic_split_crd_serves_v1alpha1_to_v1alpha4_and_stores_v1alpha2() -> None:
    manifest = crds.load(crds.TRAFFIC_SPLIT_CRD)
    assert manifest["metadata"]["name"] == "trafficsplits.split.smi-spec.io"
    versions = {v["name"]: v for v in manifest["spec"]["versions"]}
    assert sorted(versions) == ["v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4"]
    assert [name for name, v in versions.items() if v["storage"]] == ["v1alpha2"]


def test_the_log_names_only_what_changed_in_the_plan() -> None:
    same, moved, gone = (NS, "same"), (NS, "moved"), (NS, "gone")
    old = {
        same: Target(1, Behaviour()),
        moved: Target(2, Behaviour()),
        gone: Target(3, Behaviour()),
    }
    new = {same: Target(1, Behaviour()), moved: Target(4, Behaviour(error_rate=0.5))}
    assert describe_changes(old, new) == (
        "shop/gone no traffic; shop/moved 4 rps (errors 0.5, latency 20 ms)"
    )
    assert describe_changes(new, new) == ""


def test_a_daemonset_gets_traffic_by_its_ready_pods_and_is_scraped_under_its_pod_names() -> None:
    """A DaemonSet (listed without kind) counts `numberReady` pods, and its series carry the
    pod name a DaemonSet's pods have (`<name>-<5>`), which the DaemonSet builtins select."""
    daemon_set = _deployment("podinfo", ready=0)
    daemon_set["status"] = {"numberReady": 3}
    workload = Workload.from_manifest(daemon_set, daemon_set=True)
    assert workload.daemon_set
    assert workload.ready_replicas == 3
    workloads = [Workload.from_manifest(_deployment("podinfo-primary")), workload]
    result = plan([_split(50, 50)], SERVICES, workloads, default_rate=20)
    assert _rates(result) == pytest.approx({"podinfo-primary": 10.0, "podinfo": 10.0})
    simulator = Simulator()
    simulator.set_plan(result, existing=[w.key for w in workloads], daemon_sets=[workload.key])
    simulator.advance(1.0)
    pods = {
        s.labels["kubernetes_pod_name"] for s in _scrape(simulator)["http_request_duration_seconds"]
    }
    assert pods == {pod_name(NS, "podinfo", daemon_set=True), pod_name(NS, "podinfo-primary")}
    assert re.fullmatch(
        r"podinfo-[bcdfghjklmnpqrstvwxz2456789]{5}", simulator.pod_name(workload.key)
    )


def test_the_follower_plans_once_every_kind_is_listed_and_follows_each_change() -> None:
    simulator = Simulator()
    follower = Follower(cast(ApiClient, None), simulator, default_rate=20)  # no request made
    split: dict[str, Any] = {
        "apiVersion": "split.smi-spec.io/v1alpha2",
        "kind": "TrafficSplit",
        "metadata": {"name": "podinfo", "namespace": NS, "managedFields": [{"manager": "x"}]},
        "spec": {
            "service": "podinfo",
            "backends": [
                {"service": "podinfo-primary", "weight": 50},
                {"service": "podinfo-canary", "weight": 50},
            ],
        },
    }
    services = [
        {"metadata": {"name": s.name, "namespace": NS}, "spec": {"selector": s.selector}}
        for s in SERVICES
    ]
    listed = {
        TRAFFIC_SPLIT: [split],
        DEPLOYMENT: [_deployment("podinfo-primary"), _deployment("podinfo")],
        SERVICE: services,
    }
    for kind in follower.kinds:
        assert not follower.listed_all, f"listed all before {kind.plural}"
        follower.apply(kind, WatchEvent("SYNCED", items=tuple(listed.get(kind, []))))
    assert follower.listed_all
    follower.replan()
    assert _rates(simulator.current_plan) == pytest.approx(
        {"podinfo-primary": 10.0, "podinfo": 10.0}
    )

    moved = {
        **split,
        "spec": {**split["spec"], "backends": [{"service": "podinfo-primary", "weight": 100}]},
    }
    follower.apply(TRAFFIC_SPLIT, WatchEvent("MODIFIED", object=moved))
    follower.replan()
    assert _rates(simulator.current_plan) == {"podinfo-primary": 20.0}

    follower.apply(DEPLOYMENT, WatchEvent("DELETED", object=_deployment("podinfo-primary")))
    follower.apply(
        DEPLOYMENT,
        WatchEvent(
            "ADDED", object=_deployment("loner", annotations={"meshsim.canary.dev/rate": "5"})
        ),
    )
    follower.replan()
    assert _rates(simulator.current_plan) == {"loner": 5.0}


def test_an_unreadable_deployment_stops_planning_until_it_changes() -> None:
    simulator = Simulator()
    follower = Follower(cast(ApiClient, None), simulator, default_rate=20)  # no request made
    loner = _deployment("loner", annotations={"meshsim.canary.dev/rate": "5"})
    for kind in follower.kinds:
        follower.apply(kind, WatchEvent("SYNCED", items=(loner,) if kind == DEPLOYMENT else ()))
    follower.replan()
    assert _rates(simulator.current_plan) == {"loner": 5.0}

    broken = {**_deployment("broken"), "status": {"readyReplicas": "many"}}
    follower.apply(DEPLOYMENT, WatchEvent("ADDED", object=broken))
    with pytest.raises(ValueError, match="many"):
        follower.replan()  # `forever` logs this and keeps the last plan
    assert _rates(simulator.current_plan) == {"loner": 5.0}

    follower.apply(DEPLOYMENT, WatchEvent("MODIFIED", object=_deployment("broken", ready=0)))
    follower.replan()
    assert _rates(simulator.current_plan) == {"loner": 5.0}


def test_only_changes_a_plan_reads_ask_for_a_new_plan() -> None:
    follower = Follower(cast(ApiClient, None), Simulator(), default_rate=20)  # no request made
    listed = _deployment("podinfo", ready=0)
    for kind in follower.kinds:
        assert follower.apply(
            kind, WatchEvent("SYNCED", items=(listed,) if kind == DEPLOYMENT else ())
        )

    # A release's new pod template, and kube-controller-manager's status updates after it.
    released = _deployment("podinfo", ready=0, pod_annotations={"ci/revision": "v2"})
    released["status"] = {"observedGeneration": 2, "updatedReplicas": 0}
    assert not follower.apply(DEPLOYMENT, WatchEvent("MODIFIED", object=released))

    # What moves traffic does ask: ready pods, a behaviour annotation, a new Deployment.
    assert follower.apply(DEPLOYMENT, WatchEvent("MODIFIED", object=_deployment("podinfo")))
    slow = _deployment("podinfo", pod_annotations={LATENCY_ANNOTATION: "200"})
    assert follower.apply(DEPLOYMENT, WatchEvent("MODIFIED", object=slow))
    assert follower.apply(DEPLOYMENT, WatchEvent("ADDED", object=_deployment("other")))
    assert follower.apply(DEPLOYMENT, WatchEvent("DELETED", object=_deployment("other")))
