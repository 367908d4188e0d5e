"""`canary sandbox ...`: thin wrappers that print what the sandbox package does."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from canary.sandbox import cluster
from canary.sandbox.binaries import ensure_binaries
from canary.sandbox.graphite import ensure_graphite
from canary.sandbox.state import MESHSIM_SCRAPE_INTERVAL, SandboxState


def report(message: str) -> None:
    print(f"sandbox: {message}", file=sys.stderr, flush=True)


def scrape_interval(text: str) -> str:
    """`--scrape-interval`: a Prometheus duration of whole seconds or minutes (argparse type)."""
    if not re.fullmatch(r"[1-9][0-9]*(s|m)", text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a scrape interval: write whole seconds or minutes, "
            "as Prometheus does (1s, 15s, 1m)"
        )
    return text


def run(
    action: str, *, state_dir: Path, cache: Path, scrape_interval: str = MESHSIM_SCRAPE_INTERVAL
) -> int:
    match action:
        case "build":
            binaries = ensure_binaries(cache, report)
            ensure_graphite(cache, report)  # for the Graphite provider's tests only
            report(f"binaries ready; kubectl at {binaries.kubectl}")
            return 0
        case "up":
            binaries = ensure_binaries(cache, report)
            state = cluster.up(state_dir, binaries, report, scrape_interval=scrape_interval)
            print(cluster.env_exports(state))
            return 0
        case "down":
            cluster.down(state_dir, report)
            return 0
        case "status":
            return _print_status(state_dir)
        case "env":
            recorded = SandboxState.load(state_dir)
            if recorded is None or not recorded.ready:
                report(f"no sandbox is up in {state_dir}; start one with `canary sandbox up`")
                return 1
            print(cluster.env_exports(recorded))
            return 0
    raise AssertionError(f"unknown sandbox action {action!r}")  # argparse restricts the choices


def _print_status(state_dir: Path) -> int:
    state = SandboxState.load(state_dir)
    if state is None:
        print(f"down: no sandbox in {state_dir}")
        return 1
    up = cluster.is_up(state)
    health = "up" if up else "DEGRADED"
    print(f"{health}: Kubernetes {state.kubernetes_version} at {state.api_server_url}")
    print(f"  kubeconfig  {state.kubeconfig}")
    every = state.scrape_interval
    print(f"  prometheus  {state.prometheus_url} (scrapes the mesh simulator every {every})")
    for component in cluster.status(state):
        mark = "running" if component.running else "STOPPED"
        print(f"  {component.name:<24} pid {component.pid:<8} {mark:<8} log {component.log}")
    return 0 if up else 1
