"""`canary status NAME [--wait [--timeout DURATION]]`: has the release finished, for CI pipelines.

Exit status: 0 promoted (or nothing to release), 1 rolled back or not releasable, 2 timed out
(with `--wait`), 3 still progressing (without `--wait`); the rule is in `verdict.py`. With
`--wait` it follows the Canary with a watch until the verdict is final or the deadline passes,
printing a line whenever the phase, the weight or the failed checks change.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from canary.api.durations import parse_duration
from canary.cli.views.options import add_cluster_options, not_found, report
from canary.cli.views.verdict import Outcome, Target, Verdict, judge, timed_out
from canary.kube import resources
from canary.kube.client import ApiClient, api_client
from canary.kube.errors import KubeError
from canary.kube.resources import CANARY, api_reader
from canary.kube.watch import watch
from canary.targets.deployment import TargetError
from canary.targets.tracking import read_configs
from canary.targets.workload import workload_of
from canary.telemetry.logging import configure
from canary.views.summary import summary_of
from canary.views.text import clock

HELP = "whether the current release finished: exit 0 promoted, 1 failed, 2 timed out, 3 running"
DEFAULT_TIMEOUT = "15m"


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "status",
        help=HELP,
        description=HELP + ". See docs/cli.md for the exact rule.",
    )
    parser.add_argument("name", help="the Canary")
    add_cluster_options(parser)
    parser.add_argument(
        "--wait", action="store_true", help="wait until the release is promoted or rolled back"
    )
    parser.add_argument(
        "--timeout",
        type=_duration,
        default=DEFAULT_TIMEOUT,
        metavar="DURATION",
        help="how long --wait waits, e.g. 90s or 10m (default: %(default)s)",
    )


class CanaryNotFoundError(Exception):
    pass


def run(args: argparse.Namespace) -> int:
    configure("console", "warning")  # the watch's retries go to stderr
    try:
        verdict = asyncio.run(_status(args))
    except KubeError as error:
        return report(error)
    except CanaryNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return int(Outcome.FAILED)
    print(verdict.text, flush=True)
    return int(verdict.outcome)


async def _status(args: argparse.Namespace) -> Verdict:
    async with api_client(args.kubeconfig) as api:
        if not args.wait:
            obj = await resources.get(api, CANARY, args.name, namespace=args.namespace)
            if obj is None:
                raise CanaryNotFoundError(not_found(args.name, args.namespace))
            return judge(summary_of(obj), await target_of(api, obj))
        return await _wait(api, args)


async def _wait(api: ApiClient, args: argparse.Namespace) -> Verdict:
    name, namespace = args.name, args.namespace
    last: Verdict | None = None
    try:
        async with asyncio.timeout(args.timeout):
            async for event in watch(api, CANARY, namespace=namespace):
                if event.kind == "SYNCED":
                    obj = next((o for o in event.items if _name(o) == name), None)
                    if obj is None:
                        raise CanaryNotFoundError(not_found(name, namespace))
                elif _name(event.object) != name:
                    continue
                elif event.kind == "DELETED":
                    return Verdict(Outcome.FAILED, f"{name}: the Canary was deleted")
                else:
                    obj = event.object
                verdict = judge(summary_of(obj), await target_of(api, obj))
                if verdict.outcome is not Outcome.PROGRESSING:
                    return verdict
                if last is None or verdict.headline != last.headline:
                    print(f"{clock(datetime.now(UTC))}  {verdict.headline}", flush=True)
                last = verdict
    except TimeoutError:
        pass
    waited = f"{args.timeout:g}s"
    print(f"{clock(datetime.now(UTC))}  timed out", file=sys.stderr)
    return timed_out(last, name=name, waited=waited)


async def target_of(api: ApiClient, canary: Mapping[str, Any]) -> Target:
    """The revision the controller would compute for the Canary's target right now."""
    namespace = str((canary.get("metadata") or {}).get("namespace") or "")
    target_ref = (canary.get("spec") or {}).get("targetRef") or {}
    name = str(target_ref.get("name") or "")
    try:
        workload = workload_of(str(target_ref.get("kind") or "Deployment"))
    except TargetError as error:
        return Target(None, str(error))
    target = await resources.get(api, workload.resource, name, namespace=namespace)
    if target is None:
        return Target(None, f"the target {workload.kind} {name!r} does not exist", missing=True)
    template = workload.template(target)  # a DaemonSet's without its parking node selector
    if template is None:
        return Target(None, f"the target {workload.kind} {name!r} has no pod template")
    try:
        configs = await read_configs(api_reader(api), template, namespace=namespace)
    except KubeError as error:
        return Target(None, f"cannot read the ConfigMaps and Secrets it uses: {error.message}")
    return Target(configs.revision(template))


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
