"""How to run the controller against a sandbox, as its own process: one command line for the
demo, the end-to-end tests and the benchmarks."""

from __future__ import annotations

import sys

from canary.sandbox.state import SandboxState


def controller_argv(
    state: SandboxState, *, namespace: str, port: int, min_interval: float = 1.0
) -> list[str]:
    """`canary run` on the sandbox's API server and Prometheus, for the Canaries of `namespace`,
    serving /healthz, /readyz and /metrics on 127.0.0.1:`port`, logging JSON."""
    return [
        sys.executable,
        "-m",
        "canary.cli.main",
        "run",
        f"--kubeconfig={state.kubeconfig}",
        f"--prometheus-url={state.prometheus_url}",
        f"--namespaces={namespace}",
        f"--listen=127.0.0.1:{port}",
        "--log-format=json",
        f"--min-interval={min_interval:g}",
    ]
