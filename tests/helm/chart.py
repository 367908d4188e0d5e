"""Helpers of the Helm chart's tests: run helm and kubectl, render the chart, install it, and
act as its ServiceAccount.

helm and kubectl are the sandbox's own builds (`canary.sandbox.binaries`), so the tests never
depend on what happens to be on PATH. Every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from kubernetes_asyncio.client import (
    ApiClient,
    AuthorizationV1Api,
    CoreV1Api,
    V1Namespace,
    V1SelfSubjectRulesReview,
)
from kubernetes_asyncio.client.exceptions import ApiException

from canary.kube.client import api_client
from canary.kube.objects import body
from canary.sandbox.state import SandboxState
from tests.e2e.harness import Controller
from tests.integration.waiting import until_serving

REPOSITORY: Final = Path(__file__).resolve().parents[2]
CHART: Final = REPOSITORY / "helm" / "canary"
COMMAND_TIMEOUT: Final = 120.0  # seconds any one helm or kubectl command may take
READY_WITHIN: Final = 30.0  # seconds a local process may take to answer its readiness with 200


@dataclass(frozen=True)
class Tools:
    """The helm and kubectl binaries, and an environment that keeps helm's files private."""

    helm: Path
    kubectl: Path
    home: Path  # HELM_{CACHE,CONFIG,DATA}_HOME live here, not in the user's home

    @property
    def env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBECONFIG"))},
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }

    def run(self, *argv: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """Run a command to the end (for the tests that need no cluster); never raises on exit."""
        return subprocess.run(
            [str(arg) for arg in argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )

    async def arun(self, *argv: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`run`, off the event loop."""
        return await asyncio.to_thread(self.run, *argv, stdin=stdin)

    def values_args(self, values: Values) -> list[str]:
        """`--values <file>` for `values`, as helm reads a user's file (JSON is YAML)."""
        if values is None:
            return []
        path = self.home / f"values-{uuid.uuid4().hex}.yaml"
        path.write_text(json.dumps(values))
        return ["--values", str(path)]

    def template(
        self, *, release: str = "canary", namespace: str = "canary-system", values: Values = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            self.helm,
            "template",
            release,
            CHART,
            "--namespace",
            namespace,
            *self.values_args(values),
        )

    def render(
        self, *, release: str = "canary", namespace: str = "canary-system", values: Values = None
    ) -> list[dict[str, Any]]:
        """The chart's manifests (no CRDs), as helm template renders them; fails on an error."""
        result = self.template(release=release, namespace=namespace, values=values)
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


# Values given to helm: a mapping (written to a file) or None for the chart's defaults.
Values = Mapping[str, Any] | None


def find(manifests: Iterable[Mapping[str, Any]], kind: str, name: str = "") -> list[Any]:
    """The manifests of `kind` (named `name`, when given)."""
    return [
        m
        for m in manifests
        if m.get("kind") == kind and (not name or m.get("metadata", {}).get("name") == name)
    ]


def one(manifests: Iterable[Mapping[str, Any]], kind: str, name: str = "") -> Any:
    found = find(manifests, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def container(deployment: Mapping[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, containers
    return dict(containers[0])


def to_yaml(manifests: Sequence[Mapping[str, Any]]) -> str:
    return yaml.safe_dump_all([dict(m) for m in manifests], sort_keys=False)


def release_name() -> str:
    """A release name unique in the cluster (its ClusterRole is cluster-scoped)."""
    return f"canary-{uuid.uuid4().hex[:6]}"


@contextlib.asynccontextmanager
async def scratch_namespace(
    api: ApiClient, stem: str, *, labels: Mapping[str, str] | None = None
) -> AsyncIterator[str]:
    """A namespace of its own, deleted (with all it holds) afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:40].rstrip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    core = CoreV1Api(api)
    metadata = {"name": name, "labels": {"canary.dev/test": "true", **(labels or {})}}
    await core.create_namespace(body({"metadata": metadata}, V1Namespace))
    try:
        yield name
    finally:
        with contextlib.suppress(ApiException):
            await core.delete_namespace(name)


@contextlib.asynccontextmanager
async def installed(
    tools: Tools,
    sandbox: SandboxState,
    *,
    release: str,
    namespace: str,
    values: Values = None,
    wait: bool = False,
) -> AsyncIterator[str]:
    """`helm install` the chart as `release` into `namespace`; uninstalled afterwards (the
    namespace's deletion would leave the cluster-scoped objects behind)."""
    kubeconfig = ("--kubeconfig", sandbox.kubeconfig)
    waiting = ["--wait", "--timeout", "90s"] if wait else []
    result = await tools.arun(
        tools.helm,
        "install",
        release,
        CHART,
        "--namespace",
        namespace,
        *kubeconfig,
        *tools.values_args(values),
        *waiting,
    )
    try:
        assert result.returncode == 0, f"helm install failed:\n{result.stdout}\n{result.stderr}"
        yield release
    finally:
        # Also after a failed install, which may have left a release behind.
        uninstalled = await tools.arun(
            tools.helm,
            "uninstall",
            release,
            "--namespace",
            namespace,
            "--ignore-not-found",
            *kubeconfig,
        )
    assert uninstalled.returncode == 0, uninstalled.stderr


async def service_account_kubeconfig(
    tools: Tools, sandbox: SandboxState, *, namespace: str, name: str, path: Path
) -> Path:
    """A kubeconfig that authenticates only with a token of the ServiceAccount `name` (from the
    TokenRequest API, as `kubectl create token` asks it): no client certificate, no admin."""
    token = await tools.arun(
        tools.kubectl,
        "--kubeconfig",
        sandbox.kubeconfig,
        "--namespace",
        namespace,
        "create",
        "token",
        name,
        "--duration=1h",
    )
    assert token.returncode == 0, token.stderr
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "sandbox",
                "cluster": {
                    "server": sandbox.api_server_url,
                    "certificate-authority": str(Path(sandbox.directory) / "pki" / "ca.crt"),
                },
            }
        ],
        "users": [{"name": name, "user": {"token": token.stdout.strip()}}],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": "sandbox", "user": name, "namespace": namespace},
            }
        ],
        "current-context": name,
    }
    return _write_private(path, yaml.safe_dump(config))


def _write_private(path: Path, text: str) -> Path:
    path.touch(mode=0o600)
    path.write_text(text)
    return path


# One permission: (API group, resource or non-resource URL, resource names or "*", verb).
Permission = tuple[str, str, str, str]


async def permissions(kubeconfig: Path, namespace: str) -> set[Permission]:
    """What the identity of `kubeconfig` may do in `namespace` (cluster-wide rules included), as
    the API server's SelfSubjectRulesReview says: the same as `kubectl auth can-i --list`."""
    async with api_client(kubeconfig) as api:
        review = await AuthorizationV1Api(api).create_self_subject_rules_review(
            body({"spec": {"namespace": namespace}}, V1SelfSubjectRulesReview)
        )
    status = review.status
    assert not status.incomplete, status.evaluation_error
    found: set[Permission] = set()
    for rule in status.resource_rules or []:
        names = ",".join(sorted(rule.resource_names or [])) or "*"
        for group in rule.api_groups or [""]:
            for resource in rule.resources or []:
                found |= {(group, resource, names, verb) for verb in rule.verbs}
    for url_rule in status.non_resource_rules or []:
        for url in url_rule.non_resource_urls or []:
            found |= {("(non-resource)", url, "*", verb) for verb in url_rule.verbs}
    return found


def describe(found: Iterable[Permission]) -> list[str]:
    """One sorted line per (group, resource, names): `apps deployments *: create get ...`."""
    verbs: dict[tuple[str, str, str], set[str]] = {}
    for group, resource, names, verb in found:
        verbs.setdefault((group or "core", resource, names), set()).add(verb)
    return [
        f"{group} {resource} {names}: {' '.join(sorted(verbs[(group, resource, names)]))}"
        for group, resource, names in sorted(verbs)
    ]


async def start_as_deployed(
    deployment: Mapping[str, Any],
    *,
    kubeconfig: Path,
    log: Path,
    port: int,
    local: Mapping[str, str],
    ready: str = "/readyz",
) -> Controller:
    """Run, as a local process, the program the chart's `deployment` runs (kwok's pods never run
    it): with the container's own arguments, except those in `local` (what only makes sense in
    a pod, such as its address, or keeps a test short), and with `kubeconfig` instead of the
    in-cluster config. Returns once `ready` on 127.0.0.1:`port` answers 200."""
    containers = deployment["spec"]["template"]["spec"]["containers"]
    kept = [a for a in containers[0]["args"] if a.split("=", 1)[0] not in local]
    argv = [
        sys.executable,
        "-m",
        "canary.cli.main",
        *kept,
        f"--kubeconfig={kubeconfig}",
        *(f"{flag}={value}" for flag, value in local.items()),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CANARY_", "KUBECONFIG"))}
    process = _spawn(argv, env=env, log=log, port=port)
    try:
        await _wait_ready(process, ready)
    except BaseException:
        await process.stop()
        raise
    return process


def controller_overrides(sandbox: SandboxState, *, namespace: str, port: int) -> dict[str, str]:
    """The controller's arguments that differ from the chart's when it runs on this machine: the
    sandbox's Prometheus, a local port, only the test's namespace, one-second intervals."""
    return {
        "--prometheus-url": sandbox.prometheus_url,
        "--listen": f"127.0.0.1:{port}",
        "--namespaces": namespace,
        "--min-interval": "1",
    }


def _spawn(argv: list[str], *, env: dict[str, str], log: Path, port: int) -> Controller:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        output.write(f"# {' '.join(argv)}\n".encode())
        output.flush()
        process = subprocess.Popen(
            argv, stdout=output, stderr=subprocess.STDOUT, cwd=REPOSITORY, env=env
        )
    return Controller(process=process, log=log, port=port)


async def _wait_ready(process: Controller, path: str) -> None:
    def exited() -> str | None:
        code = process.process.poll()
        return None if code is None else f"{process.log}: exited with {code}:\n{process.tail()}"

    await until_serving(
        f"http://127.0.0.1:{process.port}{path}",
        within=READY_WITHIN,
        what=f"the controller (log {process.log})",
        exited=exited,
    )
