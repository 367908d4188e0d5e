"""Suite-wide fixtures and rules.

- One sandbox per test run: a sandbox that is already up (in CANARY_SANDBOX_DIR, or the default
  state directory) is reused and left running; otherwise one is started in a temporary
  directory and stopped at the end. Integration and end-to-end tests share it.
- One namespace per test, deleted afterwards.
- Under CI, a skipped test fails the run instead of passing silently.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient, CoreV1Api, V1Namespace
from kubernetes_asyncio.client.exceptions import ApiException

from canary.kube.client import api_client
from canary.kube.objects import body
from canary.sandbox import cluster
from canary.sandbox.binaries import default_cache_root, ensure_binaries
from canary.sandbox.state import SandboxState, default_state_dir
from tests.kstatus.judge import Judge, build_judge


def _report(message: str) -> None:
    print(f"sandbox: {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxState]:
    existing = SandboxState.load(default_state_dir())
    if existing is not None and cluster.is_up(existing):
        yield existing
        return
    state_dir = tmp_path_factory.mktemp("sandbox") / "state"
    binaries = ensure_binaries(default_cache_root(), _report)
    state = cluster.up(state_dir, binaries, _report)
    try:
        yield state
    finally:
        cluster.down(state_dir, _report)


@pytest.fixture
def kubeconfig(sandbox: SandboxState) -> Path:
    return Path(sandbox.kubeconfig)


@pytest.fixture
async def api(kubeconfig: Path) -> AsyncIterator[ApiClient]:
    async with api_client(kubeconfig) as client:
        yield client


@pytest.fixture
async def namespace(api: ApiClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh namespace named after the test, deleted (with all it holds) afterwards."""
    stem = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].rstrip("-")
    name = f"{stem}-{uuid.uuid4().hex[:6]}"
    core = CoreV1Api(api)
    manifest = {"metadata": {"name": name, "labels": {"canary.dev/test": "true"}}}
    await core.create_namespace(body(manifest, V1Namespace))
    try:
        yield name
    finally:
        try:
            await core.delete_namespace(name)
        except ApiException as error:
            if error.status != 404:
                raise


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = reporter.stats.get("skipped", [])
    if os.environ.get("CI") and skipped and exitstatus == pytest.ExitCode.OK:
        reporter.write_line(f"CI: {len(skipped)} test(s) skipped; a skip must not pass silently")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def kstatus() -> Judge:
    """The real kstatus library's reading of objects (built once, cached outside the checkout)."""
    return build_judge()
