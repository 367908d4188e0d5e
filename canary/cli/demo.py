"""`canary demo`: a real canary release on the local sandbox, shown live as it happens.

Brings the sandbox up, installs the CRDs, starts the controller as its own process, applies
examples/podinfo/, then releases a healthy version (which must be promoted) and a faulty one
(which must be rolled back). Exits 0 only when both outcomes happened. The controller's log
goes to the sandbox's log directory.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.live import Live

from canary.api.crd import all_crds
from canary.cli.demo_view import render
from canary.cli.sandbox import report
from canary.kube import resources
from canary.kube.client import ApiClient, api_client
from canary.kube.crds import install_crds
from canary.sandbox import cluster, processes
from canary.sandbox.binaries import ensure_binaries
from canary.sandbox.controller import controller_argv
from canary.sandbox.ports import free_ports
from canary.sandbox.state import SandboxState

NAMESPACE = "demo"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "podinfo"
CANARIES = resources.CANARY
RELEASE_TIMEOUT = 300.0
FAULTY = {"meshsim.canary.dev/error-rate": "0.3"}  # the simulator fails 30% of its requests


def run(*, state_dir: Path, cache: Path, stop_after: bool) -> int:
    console = Console()
    if not EXAMPLES.is_dir():
        console.print(f"[red]examples not found at {EXAMPLES}; run the demo from a checkout")
        return 1
    binaries = ensure_binaries(cache, report)
    state = cluster.up(state_dir, binaries, report)
    controller = _start_controller(state)
    console.print(f"controller started (pid {controller.pid}); its log: {controller.log}")
    try:
        return asyncio.run(_releases(state, console))
    finally:
        processes.stop(controller)
        if stop_after:
            cluster.down(state_dir, report)
        else:
            console.print("the sandbox keeps running; stop it with [bold]canary sandbox down[/]")


def _start_controller(state: SandboxState) -> processes.ProcessRecord:
    (port,) = free_ports(1)
    argv = controller_argv(state, namespace=NAMESPACE, port=port)
    directory = Path(state.directory)
    return processes.start(
        "controller", argv, log=directory / "logs" / "controller-demo.log", cwd=directory
    )


async def _releases(state: SandboxState, console: Console) -> int:
    async with api_client(Path(state.kubeconfig)) as api:
        await install_crds(api, all_crds().values())
        await _apply_examples(api)
        console.rule("podinfo 6.7.0 is deployed; the controller takes it over")
        if not await _follow(api, console, until={"Initialized", "Succeeded"}):
            return 1
        console.rule("release 1: podinfo 6.7.1, a healthy version")
        await _release(api, image="ghcr.io/stefanprodan/podinfo:6.7.1", annotations={})
        promoted = await _follow(api, console, until={"Succeeded", "Failed"}) == "Succeeded"
        console.print("[green]promoted" if promoted else "[red]not promoted")
        console.rule("release 2: podinfo 6.7.2, which fails 30% of its requests")
        await _release(api, image="ghcr.io/stefanprodan/podinfo:6.7.2", annotations=FAULTY)
        rolled_back = await _follow(api, console, until={"Succeeded", "Failed"}) == "Failed"
        console.print("[green]rolled back" if rolled_back else "[red]not rolled back")
    if promoted and rolled_back:
        console.print(
            "[bold green]both releases ended as they should: one promoted, one rolled back"
        )
        return 0
    console.print(f"[bold red]unexpected outcome; the controller's log: {state.directory}/logs")
    return 1


async def _apply_examples(api: ApiClient) -> None:
    await resources.apply(
        api, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    )
    for name in ("deployment.yaml", "metrictemplate.yaml", "canary.yaml"):
        for manifest in yaml.safe_load_all((EXAMPLES / name).read_text()):
            manifest["metadata"]["namespace"] = NAMESPACE
            await resources.apply(api, manifest)


async def _release(api: ApiClient, *, image: str, annotations: dict[str, str]) -> None:
    """Change the Deployment the way a CI pipeline or a GitOps tool would: a new pod template."""
    for manifest in yaml.safe_load_all((EXAMPLES / "deployment.yaml").read_text()):
        manifest["metadata"]["namespace"] = NAMESPACE
        template = manifest["spec"]["template"]
        template["spec"]["containers"][0]["image"] = image
        template["metadata"]["annotations"] = annotations
        # The controller owns spec.replicas while it releases; leave that field to it.
        del manifest["spec"]["replicas"]
        await resources.apply(api, manifest, field_manager="canary-demo")


async def _follow(api: ApiClient, console: Console, *, until: set[str]) -> str | None:
    """Show the Canary live until its phase is in `until` (after having left it, for a release)."""
    started = time.monotonic()
    left_start = False
    with Live(console=console, refresh_per_second=4) as live:
        while time.monotonic() - started < RELEASE_TIMEOUT:
            canary = await resources.get(api, CANARIES, "podinfo", namespace=NAMESPACE)
            phase = ((canary or {}).get("status") or {}).get("phase")
            live.update(render(canary, elapsed=time.monotonic() - started))
            if phase not in until:
                left_start = True
            elif left_start or "Initialized" in until:
                live.stop()
                if not console.is_terminal:
                    console.line()  # a live view ends mid-line when not on a terminal
                return str(phase)
            await asyncio.sleep(0.5)
    console.print(f"[red]no outcome within {RELEASE_TIMEOUT:.0f} s")
    return None
