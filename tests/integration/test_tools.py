"""What users reach through `canary sandbox env`: kubectl of the right version, RBAC, Prometheus."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

from prometheus_api_client import PrometheusConnect

from canary.sandbox.binaries import KUBERNETES_VERSION
from canary.sandbox.state import SandboxState


def _env_exports(sandbox: SandboxState) -> dict[str, str]:
    """Run `canary sandbox env` as a user would and read back what it exports."""
    output = subprocess.run(
        [sys.executable, "-m", "canary.cli.main", "sandbox", "env", "--dir", sandbox.directory],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    exports = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = " ".join(shlex.split(value.replace('"$PATH"', "")))
    return exports


def _kubectl(sandbox: SandboxState, *args: str) -> subprocess.CompletedProcess[str]:
    exports = _env_exports(sandbox)
    env = {
        **os.environ,
        "KUBECONFIG": exports["KUBECONFIG"],
        "PATH": exports["PATH"] + os.environ["PATH"],
    }
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, check=False)


def test_prometheus_answers_an_instant_query_at_the_url_env_prints(sandbox: SandboxState) -> None:
    url = _env_exports(sandbox)["CANARY_PROMETHEUS_URL"]
    assert url.startswith("http://127.0.0.1:")
    result = PrometheusConnect(url=url).custom_query("vector(1)")
    assert [sample["value"][1] for sample in result] == ["1"]


def test_kubectl_on_path_and_the_server_report_the_pinned_release(sandbox: SandboxState) -> None:
    result = _kubectl(sandbox, "version", "-o", "json")
    assert result.returncode == 0, result.stderr
    versions = json.loads(result.stdout)
    assert versions["serverVersion"]["gitVersion"] == KUBERNETES_VERSION
    assert versions["clientVersion"]["gitVersion"] == KUBERNETES_VERSION


def test_rbac_denies_a_service_account_without_bindings(
    sandbox: SandboxState, namespace: str, tmp_path: Path
) -> None:
    assert _kubectl(sandbox, "-n", namespace, "create", "serviceaccount", "nobody").returncode == 0
    token = _kubectl(sandbox, "-n", namespace, "create", "token", "nobody")
    assert token.returncode == 0, token.stderr
    ca = Path(sandbox.directory) / "pki" / "ca.crt"
    (tmp_path / "empty").write_text("apiVersion: v1\nkind: Config\n")
    # Only the token: the admin kubeconfig's client certificate would authenticate as admin.
    as_nobody = (
        "--kubeconfig",
        str(tmp_path / "empty"),
        "--server",
        sandbox.api_server_url,
        "--certificate-authority",
        str(ca),
        "--token",
        token.stdout.strip(),
    )
    can_list = _kubectl(sandbox, *as_nobody, "-n", namespace, "auth", "can-i", "list", "pods")
    assert can_list.stdout.strip() == "no"
    denied = _kubectl(sandbox, *as_nobody, "-n", namespace, "get", "pods")
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr


def test_kubeconfig_is_private(sandbox: SandboxState) -> None:
    assert Path(sandbox.kubeconfig).stat().st_mode & 0o077 == 0
