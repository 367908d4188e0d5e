"""The controller's settings, from command-line flags with environment variables as defaults."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    kubeconfig: Path | None
    prometheus_url: str
    provider: str
    namespaces: tuple[str, ...]  # empty: every namespace
    log_format: str
    log_level: str
    listen: str  # host:port of /healthz, /readyz and /metrics; empty disables them
    min_interval: float  # analysis intervals below this are raised to it
    max_parallel: int  # reconcile cycles running at once
    max_progressing: int  # canaries analysing at once, cluster-wide; 0 for no limit
    prometheus_timeout: float
    cluster_name: str = ""  # named in alerts, so a message says which cluster it is about


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    kubeconfig = env("KUBECONFIG")
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=Path(kubeconfig) if kubeconfig else None,
        help="kubeconfig file (env KUBECONFIG); in-cluster config when unset",
    )
    parser.add_argument(
        "--prometheus-url",
        default=env("CANARY_PROMETHEUS_URL", "http://prometheus.monitoring:9090"),
        help="Prometheus for the builtin metrics (env CANARY_PROMETHEUS_URL; default %(default)s)",
    )
    parser.add_argument(
        "--provider",
        default=env("CANARY_PROVIDER", "linkerd"),
        help="traffic provider for Canaries that set none (env CANARY_PROVIDER; %(default)s)",
    )
    parser.add_argument(
        "--namespaces",
        default=env("CANARY_NAMESPACES", ""),
        help="comma-separated namespaces to watch (env CANARY_NAMESPACES; default: all)",
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        default=env("CANARY_LOG_FORMAT", "auto"),
        help="json in a cluster, console in a terminal (env CANARY_LOG_FORMAT; default auto)",
    )
    parser.add_argument("--log-level", default=env("CANARY_LOG_LEVEL", "info"))
    parser.add_argument(
        "--listen",
        default=env("CANARY_LISTEN", "0.0.0.0:8080"),
        help="address of /healthz, /readyz and /metrics; empty to disable (default %(default)s)",
    )
    parser.add_argument(
        "--min-interval",
        type=float,
        default=float(env("CANARY_MIN_INTERVAL", "10")),
        help="seconds; shorter analysis intervals are raised to this (tests lower it to 1)",
    )
    parser.add_argument("--max-parallel", type=int, default=int(env("CANARY_MAX_PARALLEL", "8")))
    parser.add_argument(
        "--max-progressing",
        type=int,
        default=int(env("CANARY_MAX_PROGRESSING", "10")),
        help="new releases wait (phase Waiting) while this many are under way; 0: no limit",
    )
    parser.add_argument(
        "--prometheus-timeout", type=float, default=float(env("CANARY_PROMETHEUS_TIMEOUT", "10"))
    )
    parser.add_argument(
        "--cluster-name",
        default=env("CANARY_CLUSTER_NAME", ""),
        help="the cluster's name in alerts (env CANARY_CLUSTER_NAME)",
    )


def from_arguments(args: argparse.Namespace) -> Settings:
    return Settings(
        kubeconfig=args.kubeconfig,
        prometheus_url=args.prometheus_url,
        provider=args.provider,
        namespaces=tuple(n.strip() for n in args.namespaces.split(",") if n.strip()),
        log_format=args.log_format,
        log_level=args.log_level,
        listen=args.listen,
        min_interval=args.min_interval,
        max_parallel=args.max_parallel,
        max_progressing=args.max_progressing,
        prometheus_timeout=args.prometheus_timeout,
        cluster_name=args.cluster_name,
    )
