"""Benchmark: Kubernetes API requests the controller sends per analysis step of one Canary.

Run with `python bench/api_requests.py [--dir SANDBOX] [--steps N] [--no-checks]`. It runs the
controller (its own process, watching one fresh namespace) against the sandbox, releases podinfo
with a long, slow schedule (interval 2s, stepWeight 1 up to 99) and, once the analysis is
steady, reads the controller's `canary_api_requests_total` at two analysis steps N steps apart.
A step is a change of the Canary's `status.lastStepTime` (seen through a watch). It prints one
JSON line (requests per step in total, by verb and by verb and resource, and reconcile cycles
per step) and appends it to bench/results.jsonl. Target: at most 3 per step; this prints, it
does not assert.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from typing import Any

import harness

from canary.sandbox.state import SandboxState

INTERVAL = 2


def per_step(before: dict[Any, float], after: dict[Any, float], steps: int) -> dict[str, float]:
    """`(after - before) / steps` per key (keys joined with spaces), largest first."""
    rates: dict[str, float] = defaultdict(float)
    for key, value in after.items():
        delta = value - before.get(key, 0.0)
        if delta:
            name = " ".join(key) if isinstance(key, tuple) else str(key)
            rates[name] += delta / steps
    return {k: round(v, 2) for k, v in sorted(rates.items(), key=lambda kv: -kv[1])}


def grouped(
    counts: dict[tuple[str, str, str], float], *labels: int
) -> dict[tuple[str, ...], float]:
    """The counts summed over every label but those at the positions `labels`."""
    sums: dict[tuple[str, ...], float] = defaultdict(float)
    for key, value in counts.items():
        sums[tuple(key[i] for i in labels)] += value
    return dict(sums)


async def measure(state: SandboxState, args: argparse.Namespace) -> dict[str, Any]:
    analysis: dict[str, Any] = harness.with_analysis(
        harness.example_analysis(),
        interval=f"{INTERVAL}s",
        stepWeight=1,
        maxWeight=99,
        threshold=10,
    )
    if args.no_checks:
        analysis["metrics"] = []
    async with (
        harness.client(state) as api,
        harness.namespace(api, "api-requests") as namespace,
    ):
        await harness.deploy(api, namespace, analysis=analysis)
        async with (
            harness.watch_canary(api, namespace) as canary,
            harness.controller(state, namespace) as controller,
        ):
            await canary.until(lambda s: s.phase == "Initialized", seconds=120)
            await harness.change_target(api, namespace, "2")
            step_times: list[str] = []

            async def next_step() -> harness.Seen:
                def is_new(seen: harness.Seen) -> bool:
                    at = seen.status.get("lastStepTime")
                    return seen.phase == "Progressing" and bool(at) and at not in step_times

                seen = await canary.until(is_new, seconds=10 * INTERVAL + 60)
                step_times.append(str(seen.status["lastStepTime"]))
                return seen

            for _ in range(args.warmup):
                await next_step()
            first = last = await next_step()
            before = await controller.api_requests()
            reconciles_before = await controller.reconciles()
            seconds_before = await controller.reconcile_seconds()
            for _ in range(args.steps):
                last = await next_step()
            after = await controller.api_requests()
            reconciles_after = await controller.reconciles()
            seconds_after = await controller.reconcile_seconds()
    total = sum(after.values()) - sum(before.values())
    return {
        "steps": args.steps,
        "interval_s": INTERVAL,
        "checks": [m["name"] for m in analysis.get("metrics", [])],
        "weights": [first.weight, last.weight],  # a failed check holds the weight for a step
        "seconds_per_step": round((last.at - first.at) / args.steps, 3),
        "requests_per_step": round(total / args.steps, 2),
        "by_verb": per_step(grouped(before, 0), grouped(after, 0), args.steps),
        "by_verb_resource": per_step(grouped(before, 0, 1), grouped(after, 0, 1), args.steps),
        "by_code": per_step(grouped(before, 2), grouped(after, 2), args.steps),
        "reconciles_per_step": per_step(reconciles_before, reconciles_after, args.steps),
        "reconcile_seconds_mean": round(
            (seconds_after[0] - seconds_before[0]) / max(1.0, seconds_after[1] - seconds_before[1]),
            4,
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    harness.add_common_arguments(parser)
    parser.add_argument("--steps", type=int, default=20, help="analysis steps measured")
    parser.add_argument("--warmup", type=int, default=2, help="steps before measuring")
    parser.add_argument(
        "--no-checks", action="store_true", help="no metric checks (the example has three)"
    )
    args = parser.parse_args()
    with harness.sandbox(args.dir) as state:
        figures = asyncio.run(measure(state, args))
    harness.record("api_requests", figures)


if __name__ == "__main__":
    main()
