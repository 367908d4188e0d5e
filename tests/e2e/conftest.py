"""Fixtures of the end-to-end tests: the CRDs once per session, a controller process per test.

A test's controller watches only the test's namespace (`--namespaces`), so tests are isolated
and one may kill its controller and start another. Each controller writes JSON logs to a file
under the test's tmp dir; its path is printed when it starts, and the last lines of every
controller log of a failed test are attached to the failure report.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Generator
from functools import partial
from pathlib import Path

import pytest
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from canary.api.crd import all_crds
from canary.kube.client import api_client
from canary.kube.crds import install_crds
from canary.kube.resources import CANARY, METRIC_TEMPLATE, ResourceKind
from canary.sandbox.state import SandboxState
from tests.e2e.harness import Controller, Controllers
from tests.e2e.loadtest import load_target, loadtester  # noqa: F401 - fixtures of every test
from tests.integration.waiting import eventually

CONTROLLERS = pytest.StashKey[list[Controller]]()


@pytest.fixture(scope="session")
def crds(sandbox: SandboxState) -> list[str]:
    """The project's CRDs, applied to the sandbox, Established and served."""

    async def install() -> list[str]:
        async with api_client(Path(sandbox.kubeconfig)) as api:
            names = await install_crds(api, all_crds().values())
            # Established is not yet served: for a moment lists answer 429 "storage is
            # (re)initializing", a JSON Status the controller's watch cannot yet survive
            # (it exits). Start controllers only once their lists work.
            for served in (CANARY, METRIC_TEMPLATE):
                await eventually(
                    partial(_lists, api, served),
                    until=bool,
                    within=30,
                    what=f"{served.plural} served",
                )
            return names

    return asyncio.run(install())


async def _lists(api: ApiClient, resource: ResourceKind) -> bool:
    try:
        await api.call_api(
            resource.collection(None),
            "GET",
            auth_settings=["BearerToken"],
            response_types_map={200: "object"},
            _return_http_data_only=True,
        )
    except ApiException:
        return False
    return True


@pytest.fixture
async def controllers(
    sandbox: SandboxState,
    crds: list[str],
    namespace: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Controllers]:
    assert crds, "no CRDs were installed"
    started = Controllers(sandbox, namespace, tmp_path)
    request.node.stash[CONTROLLERS] = started.started
    try:
        yield started
    finally:
        for controller in started.started:
            await controller.stop()


@pytest.fixture
async def controller(controllers: Controllers) -> Controller:
    """One controller process for the test's namespace, ready."""
    return await controllers.start()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when in {"setup", "call"}:
        for process in item.stash.get(CONTROLLERS, []):
            report.sections.append((f"controller log {process.log} (last lines)", process.tail()))
    return report
