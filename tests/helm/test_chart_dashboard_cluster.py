"""The chart's dashboard against the sandbox's real API server: its manifests pass a server-side
dry run under the Pod Security Standard "restricted"; installed, the program its Deployment runs
(started locally, kwok's pods run nothing) with only its ServiceAccount's token reviews callers'
tokens and shows each caller what their own rights allow, and nothing to a caller without any:
its own identity has no rights to lend."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import DEPLOYMENT
from canary.sandbox.ports import free_ports
from canary.sandbox.state import SandboxState
from tests.dashboard.fixtures import READ, canary_with_status, service_account_token
from tests.helm.chart import (
    CHART,
    Tools,
    installed,
    release_name,
    scratch_namespace,
    service_account_kubeconfig,
    start_as_deployed,
)

pytestmark = pytest.mark.integration

RESTRICTED: Final = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}
VALUES: Final = {"dashboard": {"enabled": True}}


async def _get(url: str, token: str | None) -> tuple[int, Any]:
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.get(url, headers=headers) as answer,
    ):
        return answer.status, await answer.json(content_type=None)


@pytest.mark.usefixtures("crds")
async def test_the_dashboard_passes_a_server_side_dry_run_under_restricted_pod_security(
    tools: Tools, sandbox: SandboxState, api: ApiClient
) -> None:
    async with scratch_namespace(api, "canary-system", labels=RESTRICTED) as home:
        rendered = await tools.arun(
            tools.helm, "template", release_name(), CHART, "--namespace", home,
            *tools.values_args(VALUES),
        )  # fmt: skip
        assert rendered.returncode == 0, rendered.stderr
        result = await tools.arun(
            tools.kubectl, "--kubeconfig", sandbox.kubeconfig, "apply", "--dry-run=server",
            "--warnings-as-errors", "-f", "-", stdin=rendered.stdout,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.usefixtures("crds")
async def test_the_deployed_dashboard_acts_only_with_the_callers_rights(
    tools: Tools, sandbox: SandboxState, api: ApiClient, tmp_path: Path, started: list[Any]
) -> None:
    release = release_name()
    async with (
        scratch_namespace(api, "canary-system") as home,
        scratch_namespace(api, "team") as team,
        installed(tools, sandbox, release=release, namespace=home, values=VALUES),
    ):
        await canary_with_status(api, "alpha", namespace=team, status={"phase": "Succeeded"})
        reader = await service_account_token(api, "reader", namespace=team, canary_verbs=READ)
        name = f"{release}-dashboard"
        kubeconfig = await service_account_kubeconfig(
            tools, sandbox, namespace=home, name=name, path=tmp_path / "dashboard.kubeconfig"
        )
        own = kubeconfig.read_text().split("token: ", 1)[1].split("\n", 1)[0].strip()
        deployed = await resources.get(api, DEPLOYMENT, name, namespace=home)
        assert deployed is not None
        port = free_ports(1)[0]
        dashboard = await start_as_deployed(
            deployed,
            kubeconfig=kubeconfig,
            log=tmp_path / "dashboard.log",
            port=port,
            local={"--listen": f"127.0.0.1:{port}", "--prometheus-url": sandbox.prometheus_url},
            ready="/healthz",
        )
        started.append(dashboard)
        try:
            url = f"http://127.0.0.1:{port}/?namespace={team}"
            status, _ = await _get(url, None)
            assert status == 401
            status, page = await _get(url, reader)
            assert status == 200, page
            assert [row["name"] for row in page["canaries"]] == ["alpha"]
            # The dashboard's own token, as a caller: it may review tokens, and read nothing.
            status, page = await _get(url, own)
            assert status == 200, page
            assert page["canaries"] == []
            assert 'cannot list resource "canaries"' in page["problem"]
        finally:
            await dashboard.stop()
