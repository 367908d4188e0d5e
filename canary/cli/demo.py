"""`canary demo`: bring the sandbox up and show a Deployment rolling out on it, live.

Until the controller lands this shows the ground it will stand on: a real API server, scheduler,
controller-manager and kwok's fake nodes rolling a Deployment from one version to the next. It
exits 0 only when both rollouts completed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import ApiClient, AppsV1Api, CoreV1Api, V1Deployment, V1Namespace
from kubernetes_asyncio.client.exceptions import ApiException
from rich.console import Console
from rich.live import Live
from rich.table import Table

from canary.cli.sandbox import report
from canary.kube.client import api_client
from canary.kube.objects import body
from canary.sandbox import cluster
from canary.sandbox.binaries import ensure_binaries

NAMESPACE = "demo"
NAME = "podinfo"
VERSIONS = ("6.7.0", "6.7.1")
ROLLOUT_TIMEOUT = 120.0


def deployment(version: str) -> V1Deployment:
    labels = {"app": NAME}
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 4,
            # Each new pod must stay ready this long before the next one is replaced, so the
            # rolling update proceeds in visible steps rather than all at once.
            "minReadySeconds": 2,
            "selector": {"matchLabels": labels},
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": NAME,
                            "image": f"ghcr.io/stefanprodan/podinfo:{version}",
                            "ports": [{"name": "http", "containerPort": 9898}],
                        }
                    ]
                },
            },
        },
    }
    return body(manifest, V1Deployment)


def run(*, state_dir: Path, cache: Path, stop_after: bool) -> int:
    console = Console()
    binaries = ensure_binaries(cache, report)
    state = cluster.up(state_dir, binaries, report)
    try:
        return asyncio.run(_show_rollouts(Path(state.kubeconfig), console))
    finally:
        if stop_after:
            cluster.down(state_dir, report)
        else:
            console.print("the sandbox keeps running; stop it with [bold]canary sandbox down[/]")


async def _show_rollouts(kubeconfig: Path, console: Console) -> int:
    async with api_client(kubeconfig) as client:
        await _ensure_namespace(client)
        apps = AppsV1Api(client)
        for version in VERSIONS:
            console.rule(f"release {NAME} {version}")
            release = deployment(version)
            try:
                await apps.create_namespaced_deployment(NAMESPACE, release)
            except ApiException as error:
                if error.status != 409:
                    raise
                await apps.patch_namespaced_deployment(NAME, NAMESPACE, release)
            completed = await _follow(client, console)
            console.print()
            if not completed:
                console.print(
                    f"[red]rollout of {version} did not finish in {ROLLOUT_TIMEOUT:.0f} s"
                )
                return 1
            console.print(f"[green]{NAME} {version} rolled out: every replica updated and ready")
    return 0


async def _ensure_namespace(client: ApiClient) -> None:
    try:
        await CoreV1Api(client).create_namespace(
            body({"metadata": {"name": NAMESPACE}}, V1Namespace)
        )
    except ApiException as error:
        if error.status != 409:
            raise


async def _follow(client: ApiClient, console: Console) -> bool:
    """Redraw the rollout's state until it completes or the deadline passes."""
    apps, core = AppsV1Api(client), CoreV1Api(client)
    started = time.monotonic()
    with Live(console=console, refresh_per_second=8) as live:
        while time.monotonic() - started < ROLLOUT_TIMEOUT:
            current = await apps.read_namespaced_deployment(NAME, NAMESPACE)
            pods = await core.list_namespaced_pod(NAMESPACE, label_selector=f"app={NAME}")
            live.update(_table(current, pods.items, time.monotonic() - started))
            if _complete(current):
                return True
            await asyncio.sleep(0.25)
    return False


def _complete(current: Any) -> bool:
    spec, status = current.spec, current.status
    return bool(
        status.observed_generation == current.metadata.generation
        and (status.updated_replicas or 0) == spec.replicas
        and (status.available_replicas or 0) == spec.replicas
        and (status.replicas or 0) == spec.replicas
    )


def _table(current: Any, pods: list[Any], elapsed: float) -> Table:
    status = current.status
    table = Table(title=f"deployment/{NAME} after {elapsed:4.1f} s", title_justify="left")
    for column in ("desired", "current", "updated", "ready", "available"):
        table.add_column(column, justify="right")
    table.add_row(
        str(current.spec.replicas),
        str(status.replicas or 0),
        str(status.updated_replicas or 0),
        str(status.ready_replicas or 0),
        str(status.available_replicas or 0),
    )
    pod_table = Table(show_header=True)
    for column in ("pod", "image", "node", "phase"):
        pod_table.add_column(column)
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        image = pod.spec.containers[0].image.rsplit(":", 1)[-1]
        phase = "Terminating" if pod.metadata.deletion_timestamp else pod.status.phase
        pod_table.add_row(pod.metadata.name, image, pod.spec.node_name or "-", phase or "-")
    outer = Table.grid()
    outer.add_row(table)
    outer.add_row(pod_table)
    return outer
