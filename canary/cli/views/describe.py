"""`canary describe NAME`: one Canary in detail, with its recent releases and golden metrics.

Reads the Canary and its events from the API server and asks Prometheus (the URL from
`--prometheus-url`, else env CANARY_PROMETHEUS_URL, else the Canary's `spec.metricsServer`) for
the primary's and the canary's signals. Prometheus is optional: when it cannot be asked, the
view still prints everything else and says why the metrics are missing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from canary.cli.views.options import add_cluster_options, not_found, report
from canary.cli.views.sections import Described, render
from canary.core.redaction import redact_url
from canary.kube import resources
from canary.kube.client import api_client
from canary.kube.errors import KubeError
from canary.kube.resources import CANARY
from canary.metrics.inputs import DEFAULT_INTERVAL
from canary.metrics.prometheus import PrometheusClient
from canary.views.golden import Golden, Span, Unavailable, golden_signals
from canary.views.timeline import EVENTS, EventView, events_about
from canary.views.window import chart_start, rate_window
from canary.views.workloads import workloads_of

HELP = "a Canary in detail: checks, recent releases, golden metrics of primary and canary"
PROMETHEUS_TIMEOUT = 5.0
CHART_POINTS = 60
NO_URL = "no Prometheus URL: pass --prometheus-url, set CANARY_PROMETHEUS_URL or spec.metricsServer"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("describe", help=HELP, description=HELP)
    parser.add_argument("name", help="the Canary")
    add_cluster_options(parser)
    parser.add_argument(
        "--prometheus-url",
        default=os.environ.get("CANARY_PROMETHEUS_URL") or None,
        help="Prometheus to ask (env CANARY_PROMETHEUS_URL; else the Canary's metricsServer)",
    )
    parser.add_argument(
        "--window",
        default=None,
        help="rate window of the metrics, e.g. 30s (default: the interval of the Canary's "
        f"request-success-rate check, else {DEFAULT_INTERVAL})",
    )


def run(args: argparse.Namespace) -> int:
    try:
        text = asyncio.run(_describe(args))
    except KubeError as error:
        return report(error)
    if text is None:
        print(f"error: {not_found(args.name, args.namespace)}", file=sys.stderr)
        return 1
    print(text, end="")
    return 0


async def _describe(args: argparse.Namespace) -> str | None:
    async with api_client(args.kubeconfig) as api:
        canary = await resources.get(api, CANARY, args.name, namespace=args.namespace)
        if canary is None:
            return None
        events_problem = ""
        try:
            listed = await resources.list_objects(api, EVENTS, namespace=args.namespace) or []
        except KubeError as error:  # a view without the timeline is still worth printing
            listed, events_problem = [], f"events unavailable: {error.message}"
    uid = str((canary.get("metadata") or {}).get("uid") or "")
    events = events_about(listed, name=args.name, uid=uid)
    spec = canary.get("spec") or {}
    url = args.prometheus_url or str(spec.get("metricsServer") or "")
    now = datetime.now(UTC)
    window = args.window or rate_window(spec)
    metrics = await _metrics(url, canary, events, window=window, now=now)
    return render(
        Described(
            canary=canary,
            events=events,
            events_problem=events_problem,
            metrics=metrics,
            prometheus_url=url,
            now=now,
        )
    )


async def _metrics(
    url: str,
    canary: Mapping[str, Any],
    events: Sequence[EventView],
    *,
    window: str,
    now: datetime,
) -> Golden | Unavailable:
    if not url:
        return Unavailable(NO_URL)
    workloads = workloads_of(canary)
    try:
        client = PrometheusClient(url, timeout=PROMETHEUS_TIMEOUT)
    except ValueError as error:
        return Unavailable(f"Prometheus URL {redact_url(url)!r}: {error}")
    async with client:
        return await golden_signals(
            client,
            workloads,
            window=window,
            span=Span(start=chart_start(events, now=now), end=now, points=CHART_POINTS),
        )
