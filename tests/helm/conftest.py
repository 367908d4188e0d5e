"""Fixtures of the Helm chart's tests: the sandbox's helm and kubectl, and the project's CRDs.

Rendering and linting need only the binaries (built once into ~/.cache/canary, as for the
sandbox); the tests that install the chart or dry-run it use the shared sandbox (tests/conftest.py).
Each controller a test starts logs to a file; the last lines of it are attached to a failure.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Generator
from functools import partial
from pathlib import Path

import pytest

from canary.api.crd import all_crds
from canary.kube import resources
from canary.kube.client import ApiClient, api_client
from canary.kube.crds import install_crds
from canary.kube.errors import KubeError
from canary.kube.resources import CANARY, METRIC_TEMPLATE, ResourceKind
from canary.sandbox.binaries import default_cache_root, ensure_binaries
from canary.sandbox.state import SandboxState
from tests.e2e.harness import Controller
from tests.helm.chart import Tools
from tests.integration.waiting import eventually

CONTROLLERS = pytest.StashKey[list[Controller]]()


def _report(message: str) -> None:
    print(f"sandbox: {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Tools:
    binaries = ensure_binaries(default_cache_root(), _report)
    return Tools(helm=binaries.helm, kubectl=binaries.kubectl, home=tmp_path_factory.mktemp("helm"))


async def _served(api: ApiClient, kind: ResourceKind) -> bool:
    try:
        return await resources.list_objects(api, kind, namespace="default") is not None
    except KubeError:  # 429 while the CRD's storage (re)initializes
        return False


@pytest.fixture(scope="session")
def crds(sandbox: SandboxState) -> list[str]:
    """The project's CRDs applied to the sandbox (as the docs tell users to), Established and
    served, before any chart is installed."""

    async def install() -> list[str]:
        async with api_client(Path(sandbox.kubeconfig)) as api:
            names = await install_crds(api, all_crds().values())
            for kind in (CANARY, METRIC_TEMPLATE):
                await eventually(
                    partial(_served, api, kind), until=bool, within=30, what=f"{kind.plural} served"
                )
            return names

    return asyncio.run(install())


@pytest.fixture
def started(request: pytest.FixtureRequest) -> list[Controller]:
    """Controllers a test started, for the failure report."""
    controllers: list[Controller] = []
    request.node.stash[CONTROLLERS] = controllers
    return controllers


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when in {"setup", "call"}:
        for process in item.stash.get(CONTROLLERS, []):
            report.sections.append((f"controller log {process.log} (last lines)", process.tail()))
    return report
