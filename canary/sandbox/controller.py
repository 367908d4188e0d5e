"""How to run the controller against a sandbox, as its own process: one command line for the
demo, the end-to-end tests and the benchmarks."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from canary.sandbox.state import SandboxState


@dataclass(frozen=True)
class LeaderElection:
    """`--leader-elect` with the Lease `name` in `namespace`, and its timing (seconds)."""

    namespace: str
    name: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def argv(self) -> list[str]:
        return [
            "--leader-elect",
            f"--leader-election-namespace={self.namespace}",
            f"--leader-election-id={self.name}",
            f"--leader-election-lease-duration={self.lease_duration:g}",
            f"--leader-election-renew-deadline={self.renew_deadline:g}",
            f"--leader-election-retry-period={self.retry_period:g}",
        ]


def controller_argv(  # noqa: PLR0913 - keyword-only: the flags of one command line
    state: SandboxState,
    *,
    namespace: str,
    port: int,
    min_interval: float = 1.0,
    leader_election: LeaderElection | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """`canary run` on the sandbox's API server and Prometheus, for the Canaries of `namespace`,
    serving /healthz, /readyz and /metrics on 127.0.0.1:`port`, logging JSON; with
    `leader_election`, acting only while it holds that Lease; `extra` flags last (e.g.
    `--max-parallel=1`)."""
    election = leader_election.argv() if leader_election is not None else []
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
        *election,
        *extra,
    ]
