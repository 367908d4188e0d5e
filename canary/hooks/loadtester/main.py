"""The load tester's command line: serve the API until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from canary.hooks.loadtester.gates import CONFIG_MAP_NAME, GateStore
from canary.hooks.loadtester.hey import parse_go_duration
from canary.hooks.loadtester.server import Settings, build_app
from canary.kube.client import api_client
from canary.telemetry.logging import redact_record

log = logging.getLogger("canary.hooks.loadtester")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canary-loadtester",
        description="Flagger-compatible load tester and gates; gate state lives in a ConfigMap.",
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on (%(default)s)")  # noqa: S104 - a service
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (%(default)s)")
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="kubeconfig file (default: in-cluster config, else ~/.kube/config)",
    )
    parser.add_argument(
        "--namespace",
        default=os.environ.get("POD_NAMESPACE", "default"),
        help="namespace of the gates ConfigMap (env POD_NAMESPACE; default %(default)s)",
    )
    parser.add_argument(
        "--configmap", default=CONFIG_MAP_NAME, help="the gates ConfigMap (%(default)s)"
    )
    parser.add_argument(
        "--timeout",
        type=parse_go_duration,
        default=3600.0,
        help="the longest a task may run, as a Go duration (default 1h)",
    )
    parser.add_argument(
        "--allow-commands",
        action="store_true",
        help="run non-hey `cmd`/`bash` tasks in a shell (off: only the built-in load generator)",
    )
    return parser


async def serve(args: argparse.Namespace) -> None:
    async with api_client(args.kubeconfig) as api:
        gates = GateStore(api, args.namespace, args.configmap)
        settings = Settings(allow_commands=args.allow_commands, task_timeout=args.timeout)
        runner = web.AppRunner(build_app(gates, settings), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, args.host, args.port)
            await site.start()
            log.info(
                "listening on %s:%s; gates in configmap %s/%s",
                args.host,
                args.port,
                args.namespace,
                args.configmap,
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for number in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(number, stop.set)
            await stop.wait()
        finally:
            await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    """Serve with parsed `args` (also `canary loadtester`) until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact_record)  # task descriptions quote the URLs they load
    asyncio.run(serve(args))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))
