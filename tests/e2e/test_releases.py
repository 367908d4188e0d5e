"""Releases end to end: the controller process, the API server, Prometheus and the mesh simulator.

Every test releases a new version of a podinfo-like Deployment in its own namespace, under its
own controller process, and judges the run by what the cluster went through (the recorder's
histories of weights, statuses and primary revisions) and by where it ended.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import TRAFFIC_SPLIT
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    LATENCY_ANNOTATION,
    RATE_ANNOTATION,
    TEST_MANAGER,
    CanaryView,
    Event,
    Recorder,
    apply,
    canary,
    deployment,
    events_of,
    get_canary,
    get_deployment,
    image_of,
    set_template,
    template_revision,
)
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")  # one controller process per test

NAME = "podinfo"
INITIALIZED_WITHIN = 30.0
RUN_WITHIN = 90.0


async def _initialized(
    api: ApiClient, recorder: Recorder, *, namespace: str, manifest: dict[str, Any]
) -> CanaryView:
    """Apply the Deployment (version 6.7.0) and `manifest`; wait until the Canary is Initialized."""
    await apply(api, deployment(NAME, namespace=namespace))
    await apply(api, manifest)
    await recorder.wait(
        lambda: (
            recorder.statuses.last is not None and recorder.statuses.last.phase == "Initialized"
        ),
        within=INITIALIZED_WITHIN,
        what="phase Initialized",
    )
    view = recorder.statuses.last
    assert view is not None
    assert view.promoted, "an initialized Canary names the revision its primary runs"
    return view


async def _target_replicas(api: ApiClient, namespace: str) -> int:
    target = await get_deployment(api, NAME, namespace=namespace)
    return int(target["spec"].get("replicas") or 0)


async def _assert_target_scaled_to_zero(api: ApiClient, namespace: str) -> None:
    await eventually(
        partial(_target_replicas, api, namespace),
        until=lambda replicas: replicas == 0,
        within=20,
        what="the target scaled to 0",
    )


async def _status(api: ApiClient, namespace: str) -> dict[str, Any]:
    return dict((await get_canary(api, NAME, namespace=namespace)).get("status") or {})


async def _events(api: ApiClient, namespace: str, *, reason: str) -> list[Event]:
    return [e for e in await events_of(api, NAME, namespace=namespace) if e.reason == reason]


async def _event(api: ApiClient, namespace: str, *, reason: str, containing: str = "") -> Event:
    """The first event with `reason` whose message contains `containing` (events are async)."""
    found = await eventually(
        partial(_events, api, namespace, reason=reason),
        until=lambda events: any(containing in e.message for e in events),
        within=10,
        what=f"an event {reason} about {containing!r}",
    )
    return next(e for e in found if containing in e.message)


async def _set_request_rate(api: ApiClient, namespace: str, *, rate: str) -> None:
    """Set the simulator's request rate of the apex Service (an annotation of the TrafficSplit,
    which the controller applies server-side and so leaves alone)."""
    await resources.merge_patch(
        api,
        TRAFFIC_SPLIT,
        NAME,
        namespace=namespace,
        patch={"metadata": {"annotations": {RATE_ANNOTATION: rate}}},
        field_manager=TEST_MANAGER,
    )


def _checks(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in status.get("checks") or []}


async def _assert_primary_kept(
    api: ApiClient, namespace: str, recorder: Recorder, *, revision: str
) -> None:
    """The primary still runs the version it ran before the release, and never ran another."""
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.0"
    assert template_revision(primary) == revision
    assert recorder.primary_revisions.values == [revision], recorder.describe()


async def _assert_healthy_checks_only_lacked_data(api: ApiClient, namespace: str) -> None:
    """A good version fails no check on its value. Only "no data" may happen: the first judged
    tick can come before the simulator's traffic has been scraped twice."""
    failed = await _events(api, namespace, reason="CheckFailed")
    assert all("no data" in e.message for e in failed), failed


async def test_a_healthy_release_is_promoted_through_exactly_the_configured_weights(
    api: ApiClient, namespace: str
) -> None:
    manifest = canary(
        NAME, namespace=namespace, interval="2s", threshold=3, step_weights=[10, 30, 50]
    )
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        initial = await _initialized(api, recorder, namespace=namespace, manifest=manifest)
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", (await _status(api, namespace), recorder.describe())

    assert recorder.canary_weights == [0, 10, 30, 50, 0], recorder.describe()
    assert recorder.weights.last == (100, 0)
    assert outcome.promoted != initial.promoted
    assert outcome.promoted == outcome.applied
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"
    status = await _status(api, namespace)
    assert template_revision(primary) == status["lastPromotedSpec"] == outcome.promoted
    assert recorder.primary_revisions.values == [initial.promoted, outcome.promoted]
    await _assert_target_scaled_to_zero(api, namespace)
    await _event(api, namespace, reason="Succeeded", containing=outcome.promoted)
    await _assert_healthy_checks_only_lacked_data(api, namespace)


async def test_b_a_raised_error_rate_is_rolled_back_after_threshold_failed_checks(
    api: ApiClient, namespace: str
) -> None:
    manifest = canary(NAME, namespace=namespace, interval="3s", threshold=2, step_weight=10)
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        initial = await _initialized(api, recorder, namespace=namespace, manifest=manifest)
        # 100 requests a second, so that the canary's 10 % see failures from the first second
        # (at the default 20, its first few requests may all succeed).
        await _set_request_rate(api, namespace, rate="100")
        released = time.monotonic()
        await set_template(
            api, NAME, namespace=namespace, tag="6.7.1", annotations={ERROR_RATE_ANNOTATION: "0.3"}
        )
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Failed", (await _status(api, namespace), recorder.describe())
        await recorder.wait(
            lambda: recorder.weights.last == (100, 0), within=10, what="all traffic to the primary"
        )

    assert outcome.failed_checks == 2
    # The first judged tick may pass: for a scrape or so after the first failure, the new
    # failure series has a single sample, so rate() ignores it and the success rate reads
    # 100 %. From then on every tick fails, so the canary never went beyond 20.
    assert recorder.canary_weights in ([0, 10, 0], [0, 10, 20, 0]), recorder.describe()
    assert outcome.promoted == initial.promoted
    status = await _status(api, namespace)
    assert status["phase"] == "Failed"
    assert status["failedChecks"] == 2
    assert status["lastPromotedSpec"] == initial.promoted
    success = _checks(status)["request-success-rate"]
    assert success["verdict"] == "Fail", success
    assert success["value"] is not None, success
    assert 60 < success["value"] < 80, success  # 30 % of the responses fail
    split = await resources.get(api, TRAFFIC_SPLIT, NAME, namespace=namespace)
    assert split is not None
    assert {b["service"]: b["weight"] for b in split["spec"]["backends"]} == {
        f"{NAME}-primary": 100,
        f"{NAME}-canary": 0,
    }
    await _assert_primary_kept(api, namespace, recorder, revision=initial.promoted)
    await _assert_target_scaled_to_zero(api, namespace)
    rollback = await _event(api, namespace, reason="Rollback", containing="request-success-rate")
    assert rollback.type == "Warning"


async def test_c_a_slow_release_is_rolled_back_by_request_duration(
    api: ApiClient, namespace: str
) -> None:
    manifest = canary(
        NAME, namespace=namespace, interval="3s", threshold=2, step_weight=10, max_duration_ms=500
    )
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        initial = await _initialized(api, recorder, namespace=namespace, manifest=manifest)
        await _set_request_rate(api, namespace, rate="100")  # enough requests for a p99
        released = time.monotonic()
        await set_template(
            api, NAME, namespace=namespace, tag="6.7.1", annotations={LATENCY_ANNOTATION: "800"}
        )
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Failed", (await _status(api, namespace), recorder.describe())

    status = await _status(api, namespace)
    checks = _checks(status)
    duration = checks["request-duration"]
    assert duration["verdict"] == "Fail", checks
    assert duration["value"] is not None, checks
    assert duration["value"] > 500, checks
    assert checks["request-success-rate"]["verdict"] == "Pass", checks
    assert status["failedChecks"] == 2
    assert recorder.canary_weights == [0, 10, 0], recorder.describe()
    await _assert_primary_kept(api, namespace, recorder, revision=initial.promoted)
    rollback = await _event(api, namespace, reason="Rollback", containing="request-duration")
    assert rollback.type == "Warning"


async def test_d_a_canary_without_traffic_fails_saying_no_data(
    api: ApiClient, namespace: str
) -> None:
    manifest = canary(NAME, namespace=namespace, interval="2s", threshold=2, step_weight=10)
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        initial = await _initialized(api, recorder, namespace=namespace, manifest=manifest)
        # The simulator sends this TrafficSplit's apex no requests at all from now on.
        await _set_request_rate(api, namespace, rate="0")
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Failed", (await _status(api, namespace), recorder.describe())

    split = await resources.get(api, TRAFFIC_SPLIT, NAME, namespace=namespace)
    assert split is not None
    assert split["metadata"]["annotations"].get(RATE_ANNOTATION) == "0", "the premise held"
    status = await _status(api, namespace)
    assert status["failedChecks"] == 2
    checks = _checks(status)
    assert set(checks) == {"request-success-rate", "request-duration"}, checks
    for check in checks.values():
        assert check["verdict"] == "Fail", check
        assert check["value"] is None, check
        assert "no data" in check["message"], check
        assert "no traffic reached" in check["message"], check
    await _assert_primary_kept(api, namespace, recorder, revision=initial.promoted)
    await _event(api, namespace, reason="Rollback", containing="no data")


async def test_e_a_second_revision_during_analysis_restarts_it(
    api: ApiClient, namespace: str
) -> None:
    manifest = canary(
        NAME, namespace=namespace, interval="2s", threshold=3, step_weight=10, max_weight=50
    )
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        initial = await _initialized(api, recorder, namespace=namespace, manifest=manifest)
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        await recorder.wait(
            lambda: max(recorder.canary_weights, default=0) >= 20,
            within=RUN_WITHIN,
            what="weight 20",
        )
        first = recorder.statuses.last
        assert first is not None
        assert first.phase == "Progressing"
        assert first.applied not in {"", initial.promoted}
        await set_template(api, NAME, namespace=namespace, tag="6.7.2")
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", (await _status(api, namespace), recorder.describe())

    second = outcome.promoted
    assert second not in {first.applied, initial.promoted}
    restarted = await _event(api, namespace, reason="NewRevision", containing=second)
    assert "restarting" in restarted.message
    # The first run stepped to 20 (or 30, if the change landed just after that step), went
    # back to 0 when the second revision was detected, and the second run went all the way.
    weights = recorder.canary_weights
    assert weights in (
        [0, 10, 20, 0, 10, 20, 30, 40, 50, 0],
        [0, 10, 20, 30, 0, 10, 20, 30, 40, 50, 0],
    ), recorder.describe()
    assert recorder.primary_revisions.values == [initial.promoted, second], recorder.describe()
    assert first.applied not in recorder.primary_revisions.values
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.2"


async def test_f_pods_that_never_become_ready_fail_by_the_progress_deadline(
    api: ApiClient, namespace: str
) -> None:
    manifest = canary(
        NAME, namespace=namespace, interval="2s", step_weight=10, progress_deadline_seconds=10
    )
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        initial = await _initialized(api, recorder, namespace=namespace, manifest=manifest)
        released = time.monotonic()
        await set_template(
            api,
            NAME,
            namespace=namespace,
            tag="6.7.1",
            node_selector={"canary.dev/e2e-no-such-node": "true"},
        )
        outcome = await recorder.outcome(since=released, within=45)
        failed_after = time.monotonic() - released
        assert outcome.phase == "Failed", (await _status(api, namespace), recorder.describe())

    # Not before the deadline (less the 1 s granularity of the Deployment condition's
    # lastTransitionTime it is measured from), and not long after it.
    assert 9 <= failed_after <= 40, failed_after
    assert recorder.canary_weights == [0], "no traffic ever went to pods that are not ready"
    status = await _status(api, namespace)
    assert "progress deadline" in status["conditions"][0]["message"], status
    deadline = await _event(api, namespace, reason="DeadlineExceeded", containing="progress")
    assert deadline.type == "Warning"
    await _assert_primary_kept(api, namespace, recorder, revision=initial.promoted)
    await _assert_target_scaled_to_zero(api, namespace)
