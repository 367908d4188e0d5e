"""The CLI's views on real releases: `status --wait` as a pipeline uses it, `get`, `describe`.

The CLI runs as its own process, as users and CI pipelines run it, against a release driven by
the test's controller process. `status --wait` is started right after the target changes, before
the controller can have noticed, so it must not take the previous release's success for this
one's. Every wait has a deadline; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import TRAFFIC_SPLIT
from canary.sandbox.ports import free_ports
from canary.sandbox.state import SandboxState
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    RATE_ANNOTATION,
    TEST_MANAGER,
    apply,
    canary,
    deployment,
    get_canary,
    set_template,
)
from tests.e2e.harness import finish_cli as _finish
from tests.e2e.harness import run_cli as _cli
from tests.e2e.harness import start_cli as _start

pytestmark = pytest.mark.usefixtures("controller")  # one controller process per test

NAME = "podinfo"
RUN_WITHIN = "90s"


async def _initialized(
    api: ApiClient, sandbox: SandboxState, namespace: str, manifest: dict[str, Any]
) -> str:
    """Apply the Deployment and the Canary; `status --wait` says when there is nothing to
    release. The revision the primary runs."""
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(api, manifest)
    ran = await _cli(sandbox, "status", NAME, "-n", namespace, "--wait", "--timeout", "60s")
    assert ran.code == 0, ran
    assert "nothing to release: the primary runs revision" in ran.out, ran
    return str((await get_canary(api, NAME, namespace=namespace))["status"]["lastPromotedSpec"])


async def _first_lines(process: asyncio.subprocess.Process, count: int) -> list[str]:
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(30):
        while len(lines) < count:
            lines.append((await process.stdout.readline()).decode().rstrip("\n"))
    return lines


async def test_get_watch_follows_a_release_and_exits_on_sigint(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    manifest = canary(NAME, namespace=namespace, interval="3s", threshold=3, step_weights=[20, 40])
    await _initialized(api, sandbox, namespace, manifest)
    watching = await _start(sandbox, "get", NAME, "-n", namespace, "--watch")
    header, row = await _first_lines(watching, 2)
    assert header.startswith("NAME"), header
    assert row.startswith(f"{NAME}   Initialized"), row
    await set_template(api, NAME, namespace=namespace, tag="6.7.1")
    ran = await _cli(sandbox, "status", NAME, "-n", namespace, "--wait", "--timeout", RUN_WITHIN)
    assert ran.code == 0, ran
    watching.send_signal(signal.SIGINT)
    watched = await _finish(watching, within=30)
    assert watched.code == 130, watched
    rows = [line for line in watched.out.splitlines() if line.startswith(NAME)]
    assert any(" Progressing " in line for line in rows), watched
    assert " Succeeded " in rows[-1], watched


async def test_a_promoted_release_exits_0_and_shows_in_get_and_describe(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    manifest = canary(NAME, namespace=namespace, interval="3s", threshold=3, step_weights=[20, 40])
    before = await _initialized(api, sandbox, namespace, manifest)
    await set_template(api, NAME, namespace=namespace, tag="6.7.1")
    ran = await _cli(sandbox, "status", NAME, "-n", namespace, "--wait", "--timeout", RUN_WITHIN)

    status = (await get_canary(api, NAME, namespace=namespace))["status"]
    assert ran.code == 0, ran
    assert status["phase"] == "Succeeded", (status, ran)
    assert status["lastPromotedSpec"] != before
    assert ran.out.splitlines()[-1] == (
        f"{NAME}: promoted: the primary runs revision {status['lastPromotedSpec']}"
    ), ran
    assert "Progressing, canary weight" in ran.out, "progress is reported while waiting"

    got = await _cli(sandbox, "get", "-n", namespace)
    assert got.code == 0, got
    header, row = got.out.splitlines()
    assert header.split() == [
        "NAME",
        "PHASE",
        "WEIGHT",
        "FAILED",
        "CHECKS",
        "CHECKS",
        "LAST",
        "TRANSITION",
        "MESSAGE",
    ]
    assert row.startswith(f"{NAME}   Succeeded   0 "), row
    assert "request-success-rate=" in row, row
    assert f"Promotion of revision {status['lastPromotedSpec']} completed" in row, row
    everywhere = await _cli(sandbox, "get", "-A")
    assert any(
        line.startswith(f"{namespace}   {NAME}   Succeeded") for line in everywhere.out.splitlines()
    ), everywhere

    described = await _cli(
        sandbox, "describe", NAME, "-n", namespace, "--prometheus-url", sandbox.prometheus_url
    )
    assert described.code == 0, described
    revision = status["lastPromotedSpec"]
    for expected in (
        "Phase:         Succeeded since",
        f"Primary runs:  {revision}",
        "request-success-rate",
        "request-duration",
        f"latest release of revision {revision}, from ",
        ": Progressing -> Promoting -> Succeeded",
        "Advanced canary weight to 20",
        "Advanced canary weight to 40",
        f"Promotion of revision {revision} completed",
        f"Metrics (Prometheus {sandbox.prometheus_url}), rates over 10s:",
        "PRIMARY (podinfo-primary)   CANARY (podinfo)",
        "request rate",
        "success rate",
        "p99 latency",
        "canary weight",
        "success rate, primary",
    ):
        assert expected in described.out, f"{expected!r} not in:\n{described}"
    primary_rate = next(
        line for line in described.out.splitlines() if line.startswith("  request rate")
    )
    assert primary_rate.split()[2].endswith("/s"), "the primary serves traffic: a rate"


async def test_a_rolled_back_release_exits_1_naming_the_failing_check(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    manifest = canary(NAME, namespace=namespace, interval="3s", threshold=2, step_weight=10)
    await _initialized(api, sandbox, namespace, manifest)
    await resources.merge_patch(  # enough requests that the canary's 10 % see failures at once
        api,
        TRAFFIC_SPLIT,
        NAME,
        namespace=namespace,
        patch={"metadata": {"annotations": {RATE_ANNOTATION: "100"}}},
        field_manager=TEST_MANAGER,
    )
    await set_template(
        api, NAME, namespace=namespace, tag="6.7.1", annotations={ERROR_RATE_ANNOTATION: "0.3"}
    )
    ran = await _cli(sandbox, "status", NAME, "-n", namespace, "--wait", "--timeout", RUN_WITHIN)

    status = (await get_canary(api, NAME, namespace=namespace))["status"]
    assert ran.code == 1, ran
    assert status["phase"] == "Failed", (status, ran)
    assert f"{NAME}: rolled back: revision {status['lastAppliedSpec']} failed" in ran.out, ran
    assert "failing checks:" in ran.out, ran
    assert "✗ request-success-rate = " in ran.out, ran
    assert "(accepted >= 99)" in ran.out, ran

    again = await _cli(sandbox, "status", NAME, "-n", namespace)
    assert again.code == 1, again

    described = await _cli(sandbox, "describe", NAME, "-n", namespace, "--prometheus-url", "")
    assert described.code == 0, described
    for expected in (
        "Phase:         Failed since",
        "Traffic:       primary 100%, canary 0%",
        ": Progressing -> Failed",
        "Warning   CheckFailed",
        "Warning   Rollback",
        "Metrics (Prometheus -): unavailable: no Prometheus URL",
    ):
        assert expected in described.out, f"{expected!r} not in:\n{described}"


async def test_a_release_still_running_at_the_deadline_exits_2_and_3_without_wait(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    manifest = canary(NAME, namespace=namespace, interval="1m", threshold=2, step_weight=10)
    await _initialized(api, sandbox, namespace, manifest)
    await set_template(api, NAME, namespace=namespace, tag="6.7.1")

    ran = await _cli(sandbox, "status", NAME, "-n", namespace, "--wait", "--timeout", "3s")
    assert ran.code == 2, ran
    assert ran.out.splitlines()[-1].startswith(f"timed out after 3s; {NAME}: "), ran

    now = await _cli(sandbox, "status", NAME, "-n", namespace)
    assert now.code == 3, now

    port = free_ports(1)[0]
    described = await _cli(
        sandbox, "describe", NAME, "-n", namespace, "--prometheus-url", f"http://127.0.0.1:{port}"
    )
    assert described.code == 0, described
    assert "Checks" in described.out
    assert (
        f"Metrics (Prometheus http://127.0.0.1:{port}): unavailable: Prometheus unreachable at "
        f"http://127.0.0.1:{port}: connection refused"
    ) in described.out, described


async def test_missing_canaries_are_errors(namespace: str, sandbox: SandboxState) -> None:
    for args in (("status",), ("status", "--wait", "--timeout", "10s"), ("describe",), ("get",)):
        ran = await _cli(sandbox, args[0], "nothing-here", "-n", namespace, *args[1:])
        assert ran.code == 1, ran
        assert f'canary "nothing-here" not found in namespace "{namespace}"' in ran.err, ran
