"""A fixed state of the mesh simulator that reaches every provider's exporter, for the tests of
its /metrics rendering: workloads fed through every kind of route object, with and without
failures, one that receives nothing, a DaemonSet, counts past a million (where Go's float
formatting switches to exponents) and label values that need escaping.

`traffic()` builds it afresh each time (the same counts every time: seeded draws).
"""

from __future__ import annotations

from canary.routers import apisix, traefik
from canary.sandbox.exporters import contour, gloo, knative, kuma, nginx, skipper
from canary.sandbox.exporters.base import Traffic
from canary.sandbox.meshsim_model import Feed, Simulator, Target
from canary.sandbox.meshsim_objects import Behaviour, Key

GOOD = Behaviour(error_rate=0.0, latency_ms=30)
BAD = Behaviour(error_rate=0.4, latency_ms=700)
BROKEN = Behaviour(error_rate=1.0, latency_ms=5)


def _feed(kind: str, namespace: str, route: str, service: str, port: int | None = None) -> Feed:
    return Feed(
        route_kind=kind,
        route=route,
        namespace=namespace,
        service=service,
        service_namespace=namespace,
        rate=10.0,
        port=port,
    )


# Workload -> (behaviour, requests per second, the ways its requests arrive).
WORKLOADS: dict[Key, tuple[Behaviour, float, tuple[Feed, ...]]] = {
    ("test", "podinfo-primary"): (
        GOOD,
        18.0,
        (_feed("TrafficSplit", "test", "podinfo", "podinfo-primary"),),
    ),
    ("test", "podinfo"): (BAD, 7.5, (_feed("TrafficSplit", "test", "podinfo", "podinfo-canary"),)),
    ("test", "quiet"): (GOOD, 0.0, (_feed("TrafficSplit", "test", "quiet", "quiet"),)),
    ("ingress", "web-primary"): (
        GOOD,
        12.0,
        (_feed(nginx.INGRESS_KIND, "ingress", "web", "web-primary"),),
    ),
    ("ingress", "web"): (BAD, 4.0, (_feed(nginx.CANARY_KIND, "ingress", "web", "web-canary"),)),
    ("skip", "app"): (BAD, 6.0, (_feed(skipper.KIND, "skip", "app-ing", "app-canary"),)),
    ("tr", "app"): (
        BAD,
        5.0,
        (
            _feed(traefik.KIND, "tr", "app", "app-primary", 80),
            _feed(traefik.KIND, "tr", "app", "app-canary"),
        ),
    ),
    ("ax", "app"): (
        BAD,
        5.0,
        (
            _feed(apisix.KIND, "ax", "app_rule", "app-primary"),
            _feed(apisix.KIND, "ax", "app-canary_rule", "app-canary"),
        ),
    ),
    ("ct", "app"): (BAD, 3.0, (_feed(contour.KIND, "ct", "app", "app-canary", 9898),)),
    ("gl", "app-primary"): (GOOD, 3.0, (_feed(gloo.KIND, "gl", "app", "app-primary", 9898),)),
    ("gl", "other"): (BROKEN, 2.0, (_feed(gloo.KIND, "gl", "other", "plain"),)),
    ("km", "app"): (BAD, 4.0, (_feed(kuma.KIND, "km", "app_km_svc_80", "app-canary"),)),
    ("km", "untagged"): (GOOD, 4.0, (_feed(kuma.KIND, "km", "untagged", "untagged"),)),
    ("kn", "rev-1-deployment"): (GOOD, 2.0, ()),
    ("kn", "rev-2-deployment"): (
        BAD,
        3.0,
        (_feed(knative.KIND, "kn", "svc", "rev-2-private"),),
    ),
    ("kn", "rev-3-deployment"): (GOOD, 2.0, (_feed("TrafficSplit", "kn", "x", "rev-3"),)),
    ("ds", "agent"): (BAD, 3.0, ()),
    ("big", "huge"): (GOOD, 1.0, (_feed("HTTPRoute", "big", "a\\b", 'sa"y'),)),
}
DAEMON_SETS = (("ds", "agent"),)


def simulator() -> Simulator:
    """The simulator after 3 s of the fixed plan, one workload's counts past a million."""
    simulator = Simulator(seed=7)
    simulator.set_plan(
        {key: Target(rate, behaviour) for key, (behaviour, rate, _) in WORKLOADS.items() if rate},
        existing=list(WORKLOADS),
        daemon_sets=DAEMON_SETS,
        routes={key: feeds for key, (_, _, feeds) in WORKLOADS.items() if feeds},
    )
    for _ in range(12):
        simulator.advance(0.25)
    huge = simulator.series()[("big", "huge")]
    huge.successes += 1_234_567
    huge.buckets[5] += 1_234_567
    huge.latency_sum_ms += 9_876_543.21
    return simulator


def traffic(state: Simulator | None = None) -> Traffic:
    """What the exporters read from `state` (by default, a fresh `simulator()`)."""
    state = simulator() if state is None else state
    return Traffic(series=state.series(), routes=state.routes, pod_name=state.pod_name)
