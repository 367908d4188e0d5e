"""`canary describe` and the dashboard show the primary's and the canary's own traffic for
providers whose series are per ingress or Envoy cluster, not per Deployment.

Each test runs the example release of nginx, Contour (Envoy) or Skipper, set up as that
provider's own e2e test sets it up (its helpers imported; Skipper's test has no initialization
apart from its whole release, so its few steps are repeated here), and pauses it once the
canary has a share of the traffic, so both serve requests for as long as the test looks.
`canary describe` must then show a request rate for both, the canary's below the primary's (it
has at most 40 %); the dashboard's page of the Canary, the same. Pausing is the durable manual
request of `canary pause`: nothing moves, so no step or promotion races the reading.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.controller.manual import PAUSED
from canary.dashboard.access import KubeconfigAccess
from canary.kube import resources
from canary.kube.resources import CANARY, INGRESS
from canary.sandbox.meshsim_objects import RATE_ANNOTATION
from canary.sandbox.state import SandboxState
from tests.dashboard.fixtures import served
from tests.e2e import providers
from tests.e2e import test_provider_contour as contour
from tests.e2e import test_provider_nginx as nginx
from tests.e2e import test_provider_skipper as skipper
from tests.e2e.harness import TEST_MANAGER, Recorder, deployment, run_cli, set_template
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
ROW = re.compile(r"^  (request rate|success rate)\s{3,}(\S+)\s{3,}(\S+)\s*$")


@dataclass(frozen=True)
class Setup:
    """How a provider's own e2e test builds its example release."""

    example: Callable[..., dict[str, Any]]
    initialized: Callable[[ApiClient, Recorder, dict[str, Any]], Awaitable[Any]]
    recorder: Callable[[ApiClient, str], Recorder]


async def _skipper_initialized(
    api: ApiClient, recorder: Recorder, manifest: dict[str, Any]
) -> None:
    """The Skipper test's example Ingress (its `_release` applies it so, then releases)."""
    namespace = manifest["metadata"]["namespace"]
    ingress = providers.example(skipper.EXAMPLES / "ingress.yaml", namespace)
    ingress["metadata"]["annotations"] = {RATE_ANNOTATION: "40"}
    target = deployment(NAME, namespace=namespace)
    await providers.initialized(api, recorder, ingress, target, manifest)


SETUPS = {
    "nginx": Setup(nginx._example, nginx._initialized, nginx._recorder),
    "contour": Setup(contour._example, contour._initialized, contour._recorder),
    "skipper": Setup(
        lambda _file, namespace, **analysis: skipper._example(namespace, **analysis),
        _skipper_initialized,
        lambda api, namespace: Recorder(
            api, namespace=namespace, name=NAME, route=INGRESS, weights_of=skipper.weights_of
        ),
    ),
}

Rows = dict[str, tuple[float | None, float | None]]


def _value(cell: str) -> float | None:
    """`12.5/s` or `100%` as a number; None for `-`."""
    try:
        return float(cell.removesuffix("/s").removesuffix("%"))
    except ValueError:
        return None


async def _described(sandbox: SandboxState, namespace: str) -> tuple[Rows, str]:
    """The primary's and the canary's request and success rates `canary describe` prints."""
    ran = await run_cli(
        sandbox, "describe", NAME, "-n", namespace, "--prometheus-url", sandbox.prometheus_url
    )
    assert ran.code == 0, ran
    rows: Rows = {}
    for line in ran.out.splitlines():
        if found := ROW.match(line):
            rows[found.group(1)] = (_value(found.group(2)), _value(found.group(3)))
    return rows, ran.out


def _both_served(found: tuple[Rows, str]) -> bool:
    rows, _ = found
    return all(
        value is not None and value > 0
        for what in ("request rate", "success rate")
        for value in rows.get(what, (None, None))
    )


async def _paused_with_canary_traffic(
    api: ApiClient, setup: Setup, recorder: Recorder, namespace: str
) -> None:
    # Steps every 10 s: the pause lands long before a second step could.
    manifest = setup.example(
        "canary.yaml", namespace, interval="10s", threshold=3, stepWeight=20, maxWeight=40
    )
    await setup.initialized(api, recorder, manifest)
    await set_template(api, NAME, namespace=namespace, tag="6.7.1")
    await recorder.wait(
        lambda: any(weight > 0 for weight in recorder.canary_weights),
        within=60,
        what="a share of the traffic on the canary",
    )
    await resources.merge_patch(
        api,
        CANARY,
        NAME,
        namespace=namespace,
        patch={"metadata": {"annotations": {PAUSED: "true"}}},
        field_manager=TEST_MANAGER,
    )


@pytest.mark.parametrize("provider", sorted(SETUPS))
async def test_describe_and_the_dashboard_show_primary_and_canary_traffic(
    provider: str, api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    setup = SETUPS[provider]
    recorder = setup.recorder(api, namespace)
    async with recorder.running():
        await _paused_with_canary_traffic(api, setup, recorder, namespace)
        rows, text = await eventually(
            lambda: _described(sandbox, namespace),
            until=_both_served,
            within=90,
            what="request and success rates of both the primary and the canary",
        )
        async with served(
            KubeconfigAccess(api, user="tester"), prometheus_url=sandbox.prometheus_url
        ) as client:

            async def canary_page() -> dict[str, Any]:
                response = await client.get(
                    f"/canaries/{namespace}/{NAME}", headers={"Accept": "application/json"}
                )
                found: dict[str, Any] = await response.json()
                return found

            # The check's chart is a range query over the check's own window: its newest points
            # fill in a scrape or two after the golden signals' instant rates do.
            page = await eventually(
                canary_page,
                until=lambda found: (
                    100.0 in found["metrics"]["checks"]["request-success-rate"]["values"]
                ),
                within=60,
                what="the success-rate chart with a point at 100",
            )
    assert recorder.canary_weights[-1] in (20, 40), recorder.describe()
    primary_rate, canary_rate = rows["request rate"]
    assert primary_rate is not None, text
    assert canary_rate is not None, text
    assert canary_rate < primary_rate, f"the canary has at most 40 % of the requests:\n{text}"
    assert rows["success rate"] == (100.0, 100.0), text
    golden = page["metrics"]["golden"]
    assert golden["problem"] == "", golden
    for side in ("primary", "canary"):
        assert golden[side]["requestRate"]["value"] > 0, golden
        assert golden[side]["successRate"]["value"] == 100.0, golden
    # The check's chart renders its builtin query as the controller does (Skipper's route ids
    # spell the namespace's `-` as `_`).
    success = page["metrics"]["checks"]["request-success-rate"]
    assert 100.0 in success["values"], success
