"""`canary run` (the controller) and `canary crds` (generate, check or install the CRDs)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from canary.api import crdgen
from canary.api.crd import all_crds
from canary.controller import app
from canary.controller.settings import add_arguments, from_arguments
from canary.kube.client import api_client
from canary.kube.crds import install_crds
from canary.telemetry.logging import configure


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="run the controller", description="Run the controller.")
    add_arguments(run)

    crds = commands.add_parser("crds", help="generate, check or install the CRDs")
    actions = crds.add_subparsers(dest="crds_command", required=True, metavar="ACTION")
    generate = actions.add_parser("generate", help="write the CRD YAML generated from the models")
    generate.add_argument("--dir", type=Path, default=Path("crds"))
    generate.add_argument("--check", action="store_true", help="exit 1 if the files are stale")
    install = actions.add_parser("install", help="apply the CRDs to a cluster and wait for them")
    install.add_argument("--kubeconfig", type=Path, default=None)


def run_controller(args: argparse.Namespace) -> int:
    settings = from_arguments(args)
    configure(settings.log_format, settings.log_level)  # type: ignore[arg-type]
    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(app.run(settings))  # 1 once the leader Lease was lost
    return 0


def run_crds(args: argparse.Namespace) -> int:
    if args.crds_command == "generate":
        return crdgen.main([*(["--check"] if args.check else []), "--dir", str(args.dir)])
    names = asyncio.run(_install(args.kubeconfig))
    for name in names:
        print(f"customresourcedefinition {name} established")
    return 0


async def _install(kubeconfig: Path | None) -> list[str]:
    async with api_client(kubeconfig) as api:
        return await install_crds(api, all_crds().values())
