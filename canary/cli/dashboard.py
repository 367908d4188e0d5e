"""`canary dashboard`: the web dashboard, with the rights of the person's kubeconfig (or, in a
cluster, of each caller's bearer token). See docs/dashboard.md."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from canary.dashboard.app import DEFAULT_LISTEN, Options, serve
from canary.telemetry.logging import configure

HELP = "a web dashboard of every release, acting with your own Kubernetes rights"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("dashboard", help=HELP, description=HELP)
    parser.add_argument(
        "--listen",
        default=os.environ.get("CANARY_DASHBOARD_LISTEN", DEFAULT_LISTEN),
        help="HOST:PORT to serve on (env CANARY_DASHBOARD_LISTEN; default: %(default)s)",
    )
    parser.add_argument(
        "--auth",
        choices=("kubeconfig", "token"),
        default=os.environ.get("CANARY_DASHBOARD_AUTH", "kubeconfig"),
        help="kubeconfig: act as the kubeconfig's user (loopback only); token: every request "
        "brings a bearer token, checked with TokenReview and used for every read and action "
        "(in a cluster). Default: %(default)s",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig file (default: in-cluster, else env KUBECONFIG, else ~/.kube/config)",
    )
    parser.add_argument(
        "--prometheus-url",
        default=os.environ.get("CANARY_PROMETHEUS_URL", ""),
        help="Prometheus for the charts (env CANARY_PROMETHEUS_URL; else each Canary's "
        "spec.metricsServer)",
    )
    parser.add_argument(
        "--token-audience",
        action="append",
        default=[],
        help="with --auth token: an audience the callers' tokens must have (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    configure("auto", "info")
    options = Options(
        listen=args.listen,
        mode=args.auth,
        kubeconfig=args.kubeconfig,
        prometheus_url=args.prometheus_url,
        audiences=tuple(args.token_audience),
    )
    try:
        asyncio.run(serve(options))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
