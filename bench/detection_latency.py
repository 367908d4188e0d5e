"""Benchmark: how soon a change to a Canary's target starts a release.

Run with `python bench/detection_latency.py [--dir SANDBOX] [--runs K] [--settle SECONDS]`.
Repeats K times: once the previous release has ended (and `--settle` seconds more), patch the
target's pod template (a new annotation value) and time until the Canary's `status.phase` is
Progressing, as delivered by a watch on the Canary (no polling). Each release then runs to the
end on a fast schedule (interval 1s, stepWeights [50], no metric checks). It prints one JSON
line (p50/p99/max, from just before the patch is sent and from its answer) and appends it to
bench/results.jsonl. Target: p99 under 1 s; this prints, it does not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

import harness

from canary.sandbox.state import SandboxState

ANALYSIS: dict[str, Any] = {"interval": "1s", "threshold": 2, "stepWeights": [50], "metrics": []}


async def measure(state: SandboxState, args: argparse.Namespace) -> dict[str, Any]:
    from_start: list[float] = []
    from_answer: list[float] = []
    outcomes: dict[str, int] = {}
    async with (
        harness.client(state) as api,
        harness.namespace(api, "detection") as namespace,
    ):
        await harness.deploy(api, namespace, analysis=ANALYSIS)
        async with (
            harness.watch_canary(api, namespace) as canary,
            harness.controller(state, namespace) as _controller,
        ):
            await canary.until(lambda seen: seen.phase == "Initialized", seconds=120)
            for run in range(args.runs):
                await asyncio.sleep(args.settle)  # a benchmark's settle time: steady state
                done = await harness.release(
                    api, namespace, canary, f"{run}-{uuid.uuid4().hex[:6]}", seconds=120
                )
                progressing = done.first(lambda seen: seen.phase == "Progressing")
                from_start.append(progressing.at - done.started)
                from_answer.append(progressing.at - done.sent)
                outcome = done.outcome or "unknown"
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {
        "runs": args.runs,
        "settle_s": args.settle,
        "to_progressing_s": harness.summary(from_start),
        "to_progressing_after_patch_answer_s": harness.summary(from_answer),
        "patch_round_trip_s": harness.summary(
            [a - b for a, b in zip(from_start, from_answer, strict=True)]
        ),
        "outcomes": outcomes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    harness.add_common_arguments(parser)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds idle between runs")
    args = parser.parse_args()
    with harness.sandbox(args.dir) as state:
        figures = asyncio.run(measure(state, args))
    harness.record("detection_latency", figures)


if __name__ == "__main__":
    main()
