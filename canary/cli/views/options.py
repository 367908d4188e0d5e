"""The options every view shares: which cluster, which namespace; and how errors are reported."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from canary.kube.errors import KubeError


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--namespace",
        default=os.environ.get("CANARY_NAMESPACE", "default"),
        help="the namespace (env CANARY_NAMESPACE; default: %(default)s)",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig file (default: env KUBECONFIG, else ~/.kube/config)",
    )


def not_found(name: str, namespace: str) -> str:
    return f'canary "{name}" not found in namespace "{namespace}"'


def report(error: KubeError) -> int:
    """Print a failed API request as `error: ...` on stderr; the exit status (1)."""
    print(f"error: {error.message}", file=sys.stderr)
    return 1
