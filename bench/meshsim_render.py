"""Benchmark: the CPU one /metrics scrape of the mesh simulator costs, at N workloads, and the
CPU of working out its plan from a listing of N Canaries' objects.

    .venv/bin/python bench/meshsim_render.py --workloads 1000 --repeat 20

No sandbox: a simulator in this process, in the state bench/scale.py leaves the sandbox's in
(N Deployments, each fed by a TrafficSplit at the default rate of 20 requests per second,
answering with the default behaviour), plus `--still` workloads that hold counts but receive
nothing any more (canaries scaled down after a release). Figures, in CPU milliseconds of this
process (`time.process_time`, so other work on the machine does not count):

- `cold_ms`: the first scrape (every workload's labels worked out);
- `moved_ms` p50 / max: a scrape after one simulated second (four ticks) in which every fed
  workload answered requests: what the sandbox's Prometheus asks for every second;
- `still_ms` p50: a scrape right after another, nothing moved;
- `advance_ms`: the four ticks of one simulated second, for scale;
- `lines` and `bytes` of one scrape;
- `plan_ms`: `plan` and `feeds` (what each new plan computes) for the objects of N Canaries as
  the controller leaves them between releases: a TrafficSplit, the target (scaled to zero) and
  its primary, the Services `<name>`, `<name>-primary` and `<name>-canary`.

Run against an older tree (`PYTHONPATH=<its root>`) that has no `canary.sandbox.meshsim_exposition`,
it times that tree's renderer (prometheus_client's `generate_latest` over `MeshCollector`).
Prints one JSON line and appends it to bench/results.jsonl; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from canary.sandbox.meshsim_model import Feed, Simulator, Target, feeds, plan
from canary.sandbox.meshsim_objects import (
    DEFAULT_RATE,
    Backend,
    Behaviour,
    Key,
    Service,
    Split,
    Workload,
)

RESULTS = Path(__file__).with_name("results.jsonl")
NAMESPACE = "bench"
TICK = 0.25


def renderer(simulator: Simulator) -> tuple[str, Callable[[], bytes]]:
    """(which renderer, a scrape of `simulator`): this tree's, or an older tree's."""
    try:
        from canary.sandbox.exporters.registry import PROVIDERS  # noqa: PLC0415
        from canary.sandbox.meshsim import traffic  # noqa: PLC0415
        from canary.sandbox.meshsim_exposition import Exposition  # noqa: PLC0415
    except ImportError:  # a tree from before it: prometheus_client's renderer
        from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415

        from canary.sandbox import meshsim  # noqa: PLC0415

        registry = CollectorRegistry(auto_describe=False)
        registry.register(meshsim.MeshCollector(simulator))  # type: ignore[attr-defined]
        return "generate_latest", lambda: generate_latest(registry)
    exposition = Exposition(PROVIDERS)
    return "exposition", lambda: exposition.render(traffic(simulator)).encode()


def state(workloads: int, still: int) -> Simulator:
    """`workloads` fed Deployments and `still` ones that were fed once, after one second."""
    simulator = Simulator()
    keys: list[Key] = [(NAMESPACE, f"app-{i:04d}-primary") for i in range(workloads)]
    quiet: list[Key] = [(NAMESPACE, f"app-{i:04d}") for i in range(still)]
    routes = {
        key: (Feed("TrafficSplit", key[1], NAMESPACE, key[1], NAMESPACE, DEFAULT_RATE),)
        for key in [*keys, *quiet]
    }
    everyone = [*keys, *quiet]
    simulator.set_plan(
        {key: Target(DEFAULT_RATE, Behaviour()) for key in everyone},
        existing=everyone,
        routes=routes,
    )
    advance(simulator)
    simulator.set_plan(
        {key: Target(DEFAULT_RATE, Behaviour()) for key in keys}, existing=everyone, routes=routes
    )
    return simulator


def cluster(canaries: int) -> tuple[list[Split], list[Service], list[Workload]]:
    """The TrafficSplits, Services and Deployments of `canaries` Canaries between releases."""
    splits, services, workloads = [], [], []
    for i in range(canaries):
        name = f"app-{i:04d}"
        primary, canary = f"{name}-primary", f"{name}-canary"
        backends = (Backend(primary, 100.0), Backend(canary, 0.0))
        splits.append(Split(NAMESPACE, name, name, backends))
        services += [
            Service(NAMESPACE, name, {"app": primary}),
            Service(NAMESPACE, primary, {"app": primary}),
            Service(NAMESPACE, canary, {"app": name}),
        ]
        workloads += [
            Workload(NAMESPACE, name, {"app": name}, 0, Behaviour()),
            Workload(NAMESPACE, primary, {"app": primary}, 1, Behaviour()),
        ]
    return splits, services, workloads


def planned(canaries: int) -> float:
    """CPU milliseconds of `plan` and `feeds` for `canaries` Canaries' objects."""
    splits, services, workloads = cluster(canaries)
    start = time.process_time()
    plan(splits, services, workloads)
    feeds(splits, services, workloads)
    return (time.process_time() - start) * 1000


def advance(simulator: Simulator) -> None:
    for _ in range(round(1 / TICK)):
        simulator.advance(TICK)


def cpu_ms(action: Callable[[], object]) -> tuple[float, object]:
    start = time.process_time()
    result = action()
    return (time.process_time() - start) * 1000, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--still", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    simulator = state(args.workloads, args.still)
    which, scrape = renderer(simulator)
    cold, text = cpu_ms(scrape)
    assert isinstance(text, bytes)  # noqa: S101 (narrowing)
    moved, still, ticks = [], [], []
    for _ in range(args.repeat):
        ticks.append(cpu_ms(lambda: advance(simulator))[0])
        moved.append(cpu_ms(scrape)[0])
        still.append(cpu_ms(scrape)[0])
    figures = {
        "benchmark": "meshsim_render",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "renderer": which,
        "workloads": args.workloads,
        "still": args.still,
        "repeat": args.repeat,
        "lines": text.count(b"\n"),
        "bytes": len(text),
        "cold_ms": round(cold, 1),
        "moved_ms_p50": round(statistics.median(moved), 1),
        "moved_ms_max": round(max(moved), 1),
        "still_ms_p50": round(statistics.median(still), 1),
        "advance_ms_p50": round(statistics.median(ticks), 1),
        "plan_ms": round(planned(args.workloads), 1),
    }
    line = json.dumps(figures)
    print(line)
    with RESULTS.open("a") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
