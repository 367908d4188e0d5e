"""The dashboard in a real browser (Debian's headless Chromium, see tests/dashboard/browser.py)
on a live release run by the controller: the list updates by itself as the release steps, the
page of the Canary charts the weight's steps, and promote (with its confirmation) ends a
release held at a shut confirm-promotion gate, which the page then shows without a reload.
Screenshots are saved as artefacts: into $CANARY_SCREENSHOTS when set (docs/images makes the
docs' pictures), else the test's tmp dir.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.dashboard.access import KubeconfigAccess
from canary.sandbox.state import SandboxState
from tests.dashboard.browser import Page, chromium, chromium_path
from tests.dashboard.fixtures import served
from tests.e2e.harness import Recorder, apply, canary, deployment, get_deployment, image_of
from tests.e2e.harness import set_template as release

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"


def _gated(namespace: str, loadtester: str) -> dict[str, Any]:
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=3, step_weights=[20, 40])
    manifest["spec"]["analysis"]["webhooks"] = [
        {"name": "go", "type": "confirm-promotion", "url": f"{loadtester}/gate/check"},
    ]
    return manifest


def _screenshots(tmp_path: Path) -> Path:
    chosen = os.environ.get("CANARY_SCREENSHOTS")
    return Path(chosen) if chosen else tmp_path / "screenshots"


def _weight_in_list(namespace: str) -> str:
    row = json.dumps(f'tr[data-key="{namespace}/{NAME}"] progress')
    return f"(document.querySelector({row}) || {{value: -1}}).value"


async def _shot(page: Page, folder: Path, name: str, *, whole: bool = False) -> None:
    path = await page.screenshot(folder / f"dashboard-{name}.png", whole=whole)
    print(f"screenshot: {path}", file=sys.stderr)


async def test_live_list_weight_chart_and_promote_from_the_page(
    api: ApiClient, namespace: str, loadtester: str, sandbox: SandboxState, tmp_path: Path
) -> None:
    executable = chromium_path()
    if executable is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; .ci/run does)")
    folder = _screenshots(tmp_path)
    access = KubeconfigAccess(api, user="you@example.com")
    async with (
        Recorder(api, namespace=namespace, name=NAME).running() as recorder,
        served(access, prometheus_url=sandbox.prometheus_url) as dashboard,
        chromium(executable, profile=tmp_path / "chromium") as page,
    ):
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, _gated(namespace, loadtester))
        await recorder.until_phase("Initialized", within=30)

        # The list, opened before the release: it changes by itself as the release steps.
        await page.goto(str(dashboard.make_url(f"/?namespace={namespace}")))
        await page.until("window.canaryDashboard.rows !== null", within=15, what="live list")
        await release(api, NAME, namespace=namespace, tag="6.7.1")
        await page.until(f"{_weight_in_list(namespace)} === 20", within=60, what="weight 20")
        await _shot(page, folder, "list")
        await page.until(f"{_weight_in_list(namespace)} === 40", within=60, what="weight 40")
        await recorder.until_phase("WaitingPromotion", within=60)

        # The Canary's page: the weight chart has the steps the release took.
        await page.goto(str(dashboard.make_url(f"/canaries/{namespace}/{NAME}")))
        charted = await page.until(
            "window.canaryDashboard.charts.weight && window.canaryDashboard.charts.weight.data[1]",
            within=15,
            what="weight chart",
        )
        assert {20, 40} <= set(charted), charted
        phase = await page.evaluate("document.getElementById('phase').textContent")
        assert phase == "WaitingPromotion"
        await _shot(page, folder, "canary", whole=True)

        # Promote from the page, confirmed in its dialog: the gate is shut, the release ends.
        await page.click('#actions button[data-action="promote"]')
        assert await page.evaluate("document.getElementById('confirm').open")
        await _shot(page, folder, "confirm")
        await page.click("#confirm-ok")
        said = await page.until(
            "document.getElementById('result').dataset.state === 'done' && "
            "document.getElementById('result').textContent",
            within=15,
            what="the promote answer",
        )
        assert "will be promoted" in said
        await page.until(
            "document.getElementById('phase').textContent === 'Succeeded'",
            within=60,
            what="Succeeded shown live",
        )
        # The timeline follows the phases: the release's events up to its end, without a reload.
        await page.until(
            "document.getElementById('timeline').textContent.includes('Succeeded')",
            within=15,
            what="the timeline shows the promotion",
        )
        await page.until(
            "document.querySelector('#actions button[data-action=\"promote\"]').hidden",
            within=15,
            what="promote no longer offered",
        )
        await _shot(page, folder, "promoted")
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary).endswith(":6.7.1")
    assert 0 not in recorder.canary_weights[1:-1], recorder.describe()
