"""The mesh simulator's /metrics text (`canary.sandbox.meshsim_exposition`): the same bytes as
prometheus_client's renderer wrote before it, and counts that move show their new values in the
next scrape while the workloads that did not move keep theirs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from canary.sandbox.exporters.registry import PROVIDERS
from canary.sandbox.meshsim_exposition import Exposition, number, render
from canary.sandbox.meshsim_model import Target
from canary.sandbox.meshsim_objects import Behaviour
from tests.unit import meshsim_state

# Written by prometheus_client's generate_latest over the exporters as they were before this
# renderer replaced it (commit 7ad47b1), for the state of `meshsim_state`.
REFERENCE = Path(__file__).parent / "data" / "meshsim_metrics.txt"
GO_FLOAT: Callable[[float], str] = floatToGoString  # the library leaves it untyped


def test_the_text_is_what_prometheus_client_wrote_for_the_same_state() -> None:
    assert render(meshsim_state.traffic(), PROVIDERS) == REFERENCE.read_text()


def test_a_second_render_of_the_same_state_is_the_same_text() -> None:
    exposition = Exposition(PROVIDERS)
    traffic = meshsim_state.traffic()
    assert exposition.render(traffic) == exposition.render(traffic) == REFERENCE.read_text()


def test_numbers_are_written_as_go_writes_floats() -> None:
    for value in (0, 7, -3, 999_999, 1_000_000, 1_234_567, 10**17, 0.5, 1234.0625, 2e6 + 0.5):
        assert number(value) == GO_FLOAT(value)


def _values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_a_counter_that_moved_shows_its_new_value_in_the_next_scrape() -> None:
    simulator = meshsim_state.simulator()
    exposition = Exposition(PROVIDERS)
    before = exposition.render(meshsim_state.traffic(simulator))
    # Only the canary of `test` answers from now on: its series move, the others stay.
    busy = ("test", "podinfo")
    simulator.set_plan(
        {busy: Target(8.0, Behaviour(error_rate=0.5, latency_ms=100))},
        existing=list(meshsim_state.WORKLOADS),
        daemon_sets=meshsim_state.DAEMON_SETS,
        routes=simulator.routes,
    )
    simulator.advance(1.0)
    after = exposition.render(meshsim_state.traffic(simulator))
    # The same as a renderer that remembers nothing, in which the 8 new requests show.
    assert after == render(meshsim_state.traffic(simulator), PROVIDERS)
    old, new = _values(before, "request_total"), _values(after, "request_total")
    moved = (("deployment", "podinfo"), ("direction", "inbound"), ("namespace", "test"))
    assert new[moved] == old[moved] + 8
    assert {k: v for k, v in new.items() if k != moved} == {
        k: v for k, v in old.items() if k != moved
    }


def test_a_workload_whose_route_changed_is_labelled_by_its_new_route() -> None:
    simulator = meshsim_state.simulator()
    exposition = Exposition(PROVIDERS)
    exposition.render(meshsim_state.traffic(simulator))
    # The same counts, a new route: the labels change although the counts did not.
    routes = dict(simulator.routes)
    routes[("test", "podinfo")] = ()
    simulator.set_plan(
        simulator.current_plan,
        existing=list(meshsim_state.WORKLOADS),
        daemon_sets=meshsim_state.DAEMON_SETS,
        routes=routes,
    )
    after = exposition.render(meshsim_state.traffic(simulator))
    assert after == render(meshsim_state.traffic(simulator), PROVIDERS)
    assert after != REFERENCE.read_text()


def test_a_workload_deleted_and_recreated_with_as_many_requests_shows_its_new_counts() -> None:
    simulator = meshsim_state.simulator()
    exposition = Exposition(PROVIDERS)
    exposition.render(meshsim_state.traffic(simulator))
    gone = ("test", "podinfo")
    count = simulator.series()[gone].count
    others = [key for key in meshsim_state.WORKLOADS if key != gone]
    simulator.set_plan({}, existing=others, routes=simulator.routes)
    # Back before the next scrape, with other latencies but as many requests as before.
    simulator.set_plan(
        {gone: Target(float(count), Behaviour(error_rate=0.0, latency_ms=5000))},
        existing=list(meshsim_state.WORKLOADS),
        routes=simulator.routes,
    )
    simulator.advance(1.0)
    assert simulator.series()[gone].count == count
    after = exposition.render(meshsim_state.traffic(simulator))
    assert after == render(meshsim_state.traffic(simulator), PROVIDERS)
