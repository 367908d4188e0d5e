"""The whole suite, as `make test` (the README's test command) runs it.

    python -m tests.suite [pytest arguments for every run]

One sandbox for the three runs: the one already up (in CANARY_SANDBOX_DIR, or the default state
directory) is reused and left running; otherwise one is started in a temporary directory and
stopped at the end. Then:

1. every test outside `tests/e2e`, one at a time;
2. the end-to-end tests, several at once (pytest-xdist, `CANARY_E2E_WORKERS`, default 2, the
   machine's cores): each has its own namespace and its own controller, and most of their time
   is spent waiting on analysis intervals, so running them side by side keeps the suite's wall
   time down;
3. the end-to-end tests marked `serial`, one at a time: those that pause the shared API server
   or measure how late steps are, which other tests running beside them would disturb.

The exit status is the first failing run's (5, "no tests collected", counts as a failure).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from canary.sandbox import cluster
from canary.sandbox.binaries import default_cache_root, ensure_binaries
from canary.sandbox.state import SandboxState, default_state_dir

WORKERS_VARIABLE = "CANARY_E2E_WORKERS"
DEFAULT_WORKERS = 2


def _report(message: str) -> None:
    print(f"sandbox: {message}", file=sys.stderr, flush=True)


def runs(extra: Sequence[str], workers: int) -> list[list[str]]:
    """The pytest command lines, in order."""
    pytest = [sys.executable, "-m", "pytest", *extra]
    return [
        [*pytest, "--ignore=tests/e2e"],
        [*pytest, "tests/e2e", "-m", "not serial", "-n", str(workers), "--dist", "load"],
        [*pytest, "tests/e2e", "-m", "serial"],
    ]


def main(argv: Sequence[str] | None = None) -> int:
    extra = list(sys.argv[1:] if argv is None else argv)
    workers = int(os.environ.get(WORKERS_VARIABLE) or DEFAULT_WORKERS)
    state_dir = default_state_dir()
    existing = SandboxState.load(state_dir)
    started = existing is None or not cluster.is_up(existing)
    if started:
        state_dir = Path(tempfile.mkdtemp(prefix="canary-suite-")) / "state"
        cluster.up(state_dir, ensure_binaries(default_cache_root(), _report), _report)
    env = {**os.environ, "CANARY_SANDBOX_DIR": str(state_dir)}
    status = 0
    try:
        for command in runs(extra, workers):
            print(f"::: {' '.join(command[1:])}", flush=True)
            code = subprocess.run(command, env=env, check=False).returncode
            if code != 0 and status == 0:
                status = code
    finally:
        if started:
            cluster.down(state_dir, _report)
    return status


if __name__ == "__main__":
    sys.exit(main())
