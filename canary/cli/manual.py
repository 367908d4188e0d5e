"""`canary pause|resume|abort|promote|retry NAME`: manual control, recorded on the Canary."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from canary.controller.manual import RequestError, make_request
from canary.kube.client import api_client

REQUESTS = {
    "pause": "stop moving this Canary (GitOps-safe: an annotation, not spec.suspend)",
    "resume": "undo `pause`",
    "abort": "roll back the release under analysis now",
    "promote": "promote the release under analysis once its current checks pass",
    "retry": "analyse the failed revision again, without changing the target",
}


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for request, help_text in REQUESTS.items():
        parser = commands.add_parser(request, help=help_text, description=help_text)
        parser.add_argument("name", help="the Canary")
        parser.add_argument(
            "-n", "--namespace", default=os.environ.get("CANARY_NAMESPACE", "default")
        )
        parser.add_argument("--kubeconfig", type=Path, default=None)


def run(args: argparse.Namespace) -> int:
    try:
        message = asyncio.run(_request(args))
    except RequestError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(message)
    return 0


async def _request(args: argparse.Namespace) -> str:
    async with api_client(args.kubeconfig) as api:
        return await make_request(
            api, namespace=args.namespace, name=args.name, request=args.command
        )
