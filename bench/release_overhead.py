"""Benchmark: how much longer a whole release takes than its analysis schedule asks for.

Run with `python bench/release_overhead.py [--dir SANDBOX] [--runs R] [--checks]`. The Canary
steps through stepWeights [10, 20, 30, 40, 50] every 2s (no metric checks unless `--checks`,
which adds the example's three). Each run changes the target's pod template and follows the
Canary through a watch until it is Succeeded (or Failed). The schedule's own duration is
`len(stepWeights) x interval` = 10 s: the first step (to 10%) is taken as soon as the canary is
ready, and each of the five later ticks (20, 30, 40, 50, promotion) waits one interval. The
figure is wall time (from just before the change is sent to the watch delivering Succeeded)
divided by that, with its components. It prints one JSON line and appends it to
bench/results.jsonl. Target: at most 1.05; this prints, it does not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import uuid
from typing import Any

import harness

from canary.sandbox.state import SandboxState

INTERVAL = 2
STEP_WEIGHTS = [10, 20, 30, 40, 50]
PROMOTING = frozenset({"Promoting", "Finalising", "Succeeded"})


def components(done: harness.Release) -> dict[str, Any]:
    """Where the wall time of one release went, in seconds."""
    progressing = done.first(lambda seen: seen.phase == "Progressing")
    first_step = done.first(lambda seen: seen.phase == "Progressing" and seen.weight > 0)
    promoting = done.first(lambda seen: seen.phase in PROMOTING)
    ended = done.seen[-1]
    ideal = len(STEP_WEIGHTS) * INTERVAL
    steps: list[harness.Seen] = []
    for seen in done.seen:
        if (
            seen.phase == "Progressing"
            and seen.weight > 0
            and seen.weight not in (s.weight for s in steps)
        ):
            steps.append(seen)
    step_times = [seen.at for seen in steps] + [promoting.at]
    gaps = [later - earlier for earlier, later in itertools.pairwise(step_times)]
    total = ended.at - done.started
    return {
        "outcome": ended.phase,
        "total_s": round(total, 3),
        "ratio": round(total / ideal, 3),
        "detection_s": round(progressing.at - done.started, 3),
        "canary_ready_s": round(first_step.at - progressing.at, 3),
        "analysis_s": round(promoting.at - first_step.at, 3),
        "promotion_s": round(ended.at - promoting.at, 3),
        "tick_lateness_s": [round(gap - INTERVAL, 3) for gap in gaps],
        "weights": [seen.weight for seen in steps],
    }


async def measure(state: SandboxState, args: argparse.Namespace) -> dict[str, Any]:
    analysis: dict[str, Any] = {
        "interval": f"{INTERVAL}s",
        "threshold": 2,
        "stepWeights": STEP_WEIGHTS,
        "metrics": harness.example_analysis()["metrics"] if args.checks else [],
    }
    runs: list[dict[str, Any]] = []
    async with (
        harness.client(state) as api,
        harness.namespace(api, "release") as namespace,
    ):
        await harness.deploy(api, namespace, analysis=analysis)
        async with (
            harness.watch_canary(api, namespace) as canary,
            harness.controller(state, namespace) as _controller,
        ):
            await canary.until(lambda seen: seen.phase == "Initialized", seconds=120)
            for run in range(args.runs):
                await asyncio.sleep(1.0)  # a benchmark's settle time: start from steady state
                done = await harness.release(
                    api, namespace, canary, f"{run}-{uuid.uuid4().hex[:6]}", seconds=180
                )
                runs.append(components(done))
    ratios = [run["ratio"] for run in runs]
    return {
        "runs": args.runs,
        "interval_s": INTERVAL,
        "step_weights": STEP_WEIGHTS,
        "checks": bool(args.checks),
        "ideal_s": len(STEP_WEIGHTS) * INTERVAL,
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_max": max(ratios),
        "per_run": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    harness.add_common_arguments(parser)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--checks", action="store_true", help="the example's metric checks too")
    args = parser.parse_args()
    with harness.sandbox(args.dir) as state:
        figures = asyncio.run(measure(state, args))
    harness.record("release_overhead", figures)


if __name__ == "__main__":
    main()
