"""`canary dashboard` as a person runs it: a process serving on loopback with their kubeconfig,
naming them on its pages (from a SelfSubjectReview); and refusing to listen beyond loopback."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio.client import ApiClient

from canary.sandbox import processes
from canary.sandbox.ports import free_ports
from canary.sandbox.state import SandboxState
from tests.dashboard.fixtures import canary_with_status
from tests.integration.waiting import until_serving

pytestmark = pytest.mark.integration


async def test_the_command_serves_the_kubeconfig_users_view(
    sandbox: SandboxState, api: ApiClient, namespace: str, tmp_path: Path
) -> None:
    await canary_with_status(api, "alpha", namespace=namespace, status={"phase": "Succeeded"})
    (port,) = free_ports(1)
    argv = [
        sys.executable, "-m", "canary.cli.main", "dashboard",
        f"--kubeconfig={sandbox.kubeconfig}", f"--listen=127.0.0.1:{port}",
    ]  # fmt: skip
    log = tmp_path / "dashboard.log"
    process = processes.start("dashboard", argv, log=log, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        await until_serving(
            f"{url}/healthz",
            within=30,
            what="the dashboard",
            exited=lambda: None if processes.is_running(process) else log.read_text(),
        )
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                f"{url}/?namespace={namespace}", headers={"Accept": "application/json"}
            ) as answer,
        ):
            assert answer.status == 200
            page = await answer.json()
    finally:
        await asyncio.to_thread(processes.stop, process)
    assert page["user"] not in ("", "kubeconfig user")  # who the sandbox's admin is
    assert [(row["name"], row["phase"]) for row in page["canaries"]] == [("alpha", "Succeeded")]


def test_the_command_refuses_to_listen_beyond_loopback() -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "canary.cli.main", "dashboard", "--listen=0.0.0.0:3100"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "loopback only" in refused.stderr
