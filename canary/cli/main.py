"""Entry point: parse the command line and dispatch to the subcommand's module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from canary import __version__
from canary.cli import controller, dashboard, demo, manual, sandbox
from canary.cli.check import command as check
from canary.cli.views import describe, get, status
from canary.hooks.loadtester import main as loadtester
from canary.sandbox.binaries import default_cache_root
from canary.sandbox.errors import SandboxError
from canary.sandbox.state import MESHSIM_SCRAPE_INTERVAL, default_state_dir


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canary",
        description="Progressive delivery for Kubernetes: canary releases judged by Prometheus.",
    )
    parser.add_argument("--version", action="version", version=f"canary {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    box = commands.add_parser("sandbox", help="a real local Kubernetes control plane on 127.0.0.1")
    box_commands = box.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    for name, help_text in (
        ("build", "build the pinned binaries into the cache (done by `up` when needed)"),
        ("up", "start the sandbox, or do nothing when it already runs"),
        ("down", "stop every sandbox process and remove its state"),
        ("status", "what runs and where; exits 1 when the sandbox is not up"),
        ("env", 'shell exports: eval "$(canary sandbox env)"'),
    ):
        action = box_commands.add_parser(name, help=help_text, description=help_text)
        _add_location_flags(action)
        if name == "up":
            action.add_argument(
                "--scrape-interval",
                type=sandbox.scrape_interval,
                default=MESHSIM_SCRAPE_INTERVAL,
                help="how often Prometheus scrapes the mesh simulator (default: %(default)s, "
                "for short rate windows in tests); bench/scale.py uses 15s: at 1000 Canaries "
                "one scrape is 18 MB",
            )

    controller.add_parsers(commands)
    manual.add_parsers(commands)
    for view in (get, describe, status, check, dashboard):
        view.add_parser(commands)
    commands.add_parser(
        "loadtester",
        help="the load tester and gates service (webhooks call it)",
        parents=[loadtester.build_parser()],
        add_help=False,
    )

    show = commands.add_parser(
        "demo", help="bring the sandbox up and show a release happening on it, live"
    )
    _add_location_flags(show)
    show.add_argument("--down", action="store_true", help="stop the sandbox when the demo ends")
    return parser


def _add_location_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=default_state_dir(),
        help="the sandbox's state directory (env CANARY_SANDBOX_DIR; default: %(default)s)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=default_cache_root(),
        help="where built binaries are cached (env CANARY_CACHE_DIR; default: %(default)s)",
    )


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "sandbox": lambda args: sandbox.run(
        args.sandbox_command,
        state_dir=args.dir,
        cache=args.cache,
        scrape_interval=getattr(args, "scrape_interval", MESHSIM_SCRAPE_INTERVAL),
    ),
    "run": controller.run_controller,
    "crds": controller.run_crds,
    "loadtester": loadtester.run,
    **dict.fromkeys(manual.REQUESTS, manual.run),
    "get": get.run,
    "describe": describe.run,
    "status": status.run,
    "check": check.run,
    "dashboard": dashboard.run,
    "demo": lambda args: demo.run(state_dir=args.dir, cache=args.cache, stop_after=args.down),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)  # argparse restricts the choices to these keys
    except SandboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
