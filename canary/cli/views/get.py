"""`canary get [NAME] [-n NS | -A] [--watch]`: a table of Canaries, once or on every change.

More than `kubectl get canaries` shows: the failed checks against the threshold, each check's
latest value and verdict, and what the controller last said. `--watch` follows the Canaries
with the resuming watch of `canary.kube.watch` and prints the table again whenever a row changes
(ages alone do not count), until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from canary.cli.views.options import add_cluster_options, not_found, report
from canary.kube import resources
from canary.kube.client import api_client
from canary.kube.errors import KubeError
from canary.kube.resources import CANARY
from canary.kube.watch import WatchEvent, watch
from canary.telemetry.logging import configure
from canary.views.summary import NO_CRD, CanarySummary, summary_of
from canary.views.text import NO_VALUE, age, table, truncate

HELP = "list Canaries: phase, weight, failed checks, each check's latest value"
MESSAGE_WIDTH = 60
HEADERS = ("NAME", "PHASE", "WEIGHT", "FAILED CHECKS", "CHECKS", "LAST TRANSITION", "MESSAGE")

Key = tuple[str, str]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("get", help=HELP, description=HELP)
    parser.add_argument("name", nargs="?", help="only this Canary")
    add_cluster_options(parser)
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="Canaries of every namespace"
    )
    parser.add_argument(
        "-w", "--watch", action="store_true", help="print the table again on every change"
    )


def run(args: argparse.Namespace) -> int:
    if args.watch:
        configure("console", "warning")  # the watch's retries go to stderr, not into the table
    try:
        return asyncio.run(_get(args))
    except KubeError as error:
        return report(error)


def render(summaries: Iterable[CanarySummary], *, now: datetime, all_namespaces: bool) -> str:
    """The table of `summaries`, in the order given."""
    headers = ("NAMESPACE", *HEADERS) if all_namespaces else HEADERS
    rows = [_cells(summary, now=now, all_namespaces=all_namespaces) for summary in summaries]
    return table(headers, rows)


def _cells(summary: CanarySummary, *, now: datetime, all_namespaces: bool) -> list[str]:
    cells = [
        summary.name,
        summary.phase or NO_VALUE,
        str(summary.weight),
        f"{summary.failed_checks}/{summary.threshold}",
        summary.compact_checks,
        age(summary.last_transition, now),
        truncate(summary.message, MESSAGE_WIDTH) or NO_VALUE,
    ]
    return [summary.namespace, *cells] if all_namespaces else cells


async def _get(args: argparse.Namespace) -> int:
    namespace = None if args.all_namespaces else args.namespace
    async with api_client(args.kubeconfig) as api:
        if args.watch:
            await follow(
                watch(api, CANARY, namespace=namespace),
                name=args.name,
                show=_reprinting(all_namespaces=args.all_namespaces),
            )
            return 0
        if args.name is not None and namespace is not None:
            found = await resources.get(api, CANARY, args.name, namespace=namespace)
            if found is None:
                print(f"error: {not_found(args.name, namespace)}", file=sys.stderr)
                return 1
            listed = [found]
        else:
            every = await resources.list_objects(api, CANARY, namespace=namespace)
            if every is None:
                print(f"error: {NO_CRD}", file=sys.stderr)
                return 1
            listed = every
    summaries = _sorted(summary_of(obj) for obj in listed if _named(obj, args.name))
    if not summaries:
        where = "any namespace" if namespace is None else f"namespace {namespace}"
        print(f"No canaries found in {where}.", file=sys.stderr)
        return 0
    _print(summaries, all_namespaces=args.all_namespaces)
    return 0


async def follow(
    events: AsyncIterator[WatchEvent],
    *,
    name: str | None,
    show: Callable[[list[CanarySummary]], None],
) -> None:
    """Call `show` with every Canary (named `name`, if given) whenever one of them changes in a
    way the table shows; returns when `events` ends (a real watch never does)."""
    known: dict[Key, Mapping[str, Any]] = {}
    shown: list[CanarySummary] | None = None
    async for event in events:
        match event.kind:
            case "SYNCED":
                known = {_key(obj): obj for obj in event.items}
            case "DELETED":
                known.pop(_key(event.object), None)
            case _:
                known[_key(event.object)] = event.object
        summaries = _sorted(summary_of(obj) for obj in known.values() if _named(obj, name))
        if summaries != shown:
            show(summaries)
            shown = summaries


def _reprinting(*, all_namespaces: bool) -> Callable[[list[CanarySummary]], None]:
    """Prints the table, and each later table after an empty line."""
    printed = False

    def show(summaries: list[CanarySummary]) -> None:
        nonlocal printed
        if printed:
            print()
        _print(summaries, all_namespaces=all_namespaces)
        printed = True

    return show


def _print(summaries: list[CanarySummary], *, all_namespaces: bool) -> None:
    now = datetime.now(UTC)
    print(render(summaries, now=now, all_namespaces=all_namespaces), flush=True)


def _sorted(summaries: Iterable[CanarySummary]) -> list[CanarySummary]:
    return sorted(summaries, key=lambda summary: (summary.namespace, summary.name))


def _key(obj: Mapping[str, Any]) -> Key:
    metadata = obj.get("metadata") or {}
    return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))


def _named(obj: Mapping[str, Any], name: str | None) -> bool:
    return name is None or _key(obj)[1] == name
