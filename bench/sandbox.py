"""Benchmark: how fast the sandbox starts and stops, and how much memory it holds when idle.

Run with `python bench/sandbox.py [--runs N] [--idle SECONDS]` once the binaries are built
(`canary sandbox build`). It prints one JSON line of figures and appends it to
bench/results.jsonl. The target is `up` in under 30 s; this prints, it does not assert.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from canary.sandbox import cluster
from canary.sandbox.binaries import cached_binaries, default_cache_root
from canary.sandbox.state import SandboxState

RESULTS = Path(__file__).with_name("results.jsonl")


def resident_kib(state: SandboxState) -> dict[str, int]:
    """VmRSS of each sandbox process, in KiB."""
    sizes = {}
    for process in state.processes:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes[process.name] = int(line.split()[1])
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=15.0, help="seconds idle before measuring")
    args = parser.parse_args()
    binaries = cached_binaries(default_cache_root())
    if binaries is None:
        raise SystemExit("binaries are not built yet: run `canary sandbox build` first")

    up_seconds, down_seconds, memory = [], [], {}
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="canary-bench-") as scratch:
            state_dir = Path(scratch) / "sandbox"
            started = time.monotonic()
            state = cluster.up(state_dir, binaries, lambda _message: None)
            up_seconds.append(time.monotonic() - started)
            if run == 0:
                time.sleep(args.idle)  # a benchmark's settle time, not a synchronisation
                memory = resident_kib(state)
            started = time.monotonic()
            cluster.down(state_dir, lambda _message: None)
            down_seconds.append(time.monotonic() - started)

    figures = {
        "benchmark": "sandbox",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "runs": args.runs,
        "up_seconds_median": round(statistics.median(up_seconds), 2),
        "up_seconds_max": round(max(up_seconds), 2),
        "down_seconds_median": round(statistics.median(down_seconds), 2),
        "idle_rss_mib_total": round(sum(memory.values()) / 1024, 1),
        "idle_rss_mib": {name: round(kib / 1024, 1) for name, kib in memory.items()},
    }
    line = json.dumps(figures)
    print(line)
    with RESULTS.open("a") as results:
        results.write(line + "\n")


if __name__ == "__main__":
    main()
