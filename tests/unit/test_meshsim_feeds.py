"""The routes and Services through which requests reach each simulated workload (`feeds`), and
the workloads a Service selects."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from canary.sandbox.meshsim_model import Feed, Selection, feeds
from canary.sandbox.meshsim_objects import Backend, Behaviour, Service, Split, Workload, selects


def _workload(name: str, ready: int = 1) -> Workload:
    return Workload(
        namespace="shop",
        name=name,
        template_labels={"app": name},
        ready_replicas=ready,
        behaviour=Behaviour(error_rate=0.0, latency_ms=20.0),
    )


def test_each_workload_is_fed_through_its_backend_service_and_route() -> None:
    split = Split(
        namespace="shop",
        name="podinfo/rule-0",
        route="podinfo",
        kind="VirtualService",
        apex="podinfo",
        backends=(Backend("podinfo-primary", 90.0), Backend("podinfo-canary", 10.0)),
        rate=40.0,
    )
    services = [
        Service("shop", "podinfo-primary", {"app": "podinfo-primary"}),
        Service("shop", "podinfo-canary", {"app": "podinfo"}),
    ]
    found = feeds([split], services, [_workload("podinfo-primary"), _workload("podinfo")])
    assert found == {
        ("shop", "podinfo"): (
            Feed("VirtualService", "podinfo", "shop", "podinfo-canary", "shop", 4.0),
        ),
        ("shop", "podinfo-primary"): (
            Feed("VirtualService", "podinfo", "shop", "podinfo-primary", "shop", 36.0),
        ),
    }


def test_a_workload_without_ready_pods_is_not_fed() -> None:
    split = Split("shop", "podinfo", "podinfo", (Backend("podinfo-canary", 1.0),), rate=10.0)
    services = [Service("shop", "podinfo-canary", {"app": "podinfo"})]
    assert feeds([split], services, [_workload("podinfo", ready=0)]) == {}


_labels = st.dictionaries(st.sampled_from("abc"), st.sampled_from("xy"), max_size=3)


@given(
    workloads=st.lists(
        st.tuples(st.sampled_from(["shop", "other"]), _labels), max_size=12, unique_by=str
    ),
    namespace=st.sampled_from(["shop", "other"]),
    selector=_labels,
)
def test_a_selector_picks_what_testing_every_workload_would_in_the_same_order(
    workloads: list[tuple[str, dict[str, str]]], namespace: str, selector: dict[str, str]
) -> None:
    """The lookup by label that replaced a scan of every workload for every backend."""
    everyone = [
        Workload(ns, f"w{i}", labels, 1, Behaviour()) for i, (ns, labels) in enumerate(workloads)
    ]
    service = Service(namespace, "svc", selector)
    scanned = [
        w for w in everyone if w.namespace == namespace and selects(selector, w.template_labels)
    ]
    assert Selection(everyone).picked(service) == scanned
