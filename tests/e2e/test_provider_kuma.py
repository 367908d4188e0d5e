"""Provider `kuma` end to end, from examples/kuma: a Deployment released through a TrafficRoute.

The sandbox has Kuma's TrafficRoute CRD but no Kuma control plane: the mesh simulator follows
the TrafficRoute (its split of `podinfo_<namespace>_svc_9898` between the primary's and the
canary's `kuma.io/service` tags) and exports the dataplanes' `envoy_cluster_upstream_rq*`
series labelled `service`, which the builtin checks read from Prometheus with Flagger's Kuma
queries. The example is applied as written, with shorter intervals. A good version is promoted
step by step; a failing one (half its requests answered 500) is rolled back. As blue/green
(`iterations`) the split switches at once after the iterations, the canary judged under a load
test of its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, TRAFFIC_ROUTE
from canary.sandbox.state import SandboxState
from tests.e2e import providers
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    RATE_ANNOTATION,
    REPOSITORY,
    Controller,
    Controllers,
    Recorder,
    apply,
    events_of,
    get_canary,
    get_deployment,
    image_of,
    set_template,
)
from tests.integration.waiting import eventually

NAME = "podinfo"
EXAMPLE = REPOSITORY / "examples" / "kuma"
NAMESPACE = resources.resource_kind("v1", "Namespace")
RUN_WITHIN = 120.0


def _document(file: str, namespace: str) -> dict[str, Any]:
    return providers.example(EXAMPLE / file, namespace)


def _tag(service: str, namespace: str) -> str:
    return f"{service}_{namespace}_svc_9898"


def route_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the TrafficRoute `name`'s split; None for any other object."""
    if (obj.get("metadata") or {}).get("name") != name:
        return None
    split = ((obj.get("spec") or {}).get("conf") or {}).get("split") or []
    weights = {
        str(e["destination"]["kuma.io/service"]).split("_")[0]: int(e["weight"]) for e in split
    }
    return weights.get(f"{name}-primary", 0), weights.get(f"{name}-canary", 0)


async def _initialized(api: ApiClient, recorder: Recorder, namespace: str) -> None:
    """Apply the example (2 s interval, 10 s metric windows, 2 failed checks to roll back,
    steps of 10%)."""
    target = _document("deployment.yaml", namespace)
    canary = _document("canary.yaml", namespace)
    providers.shortened(canary, metric_interval="10s", threshold=2, stepWeight=10)
    await providers.initialized(api, recorder, target, canary, within=60)
    route = await resources.get(api, TRAFFIC_ROUTE, NAME, namespace=None)
    assert route is not None
    assert route["mesh"] == "default"
    assert route["spec"]["destinations"] == [{"match": {"kuma.io/service": _tag(NAME, namespace)}}]
    assert route["metadata"]["annotations"]["canary.dev/canary"] == f"{namespace}/{NAME}"
    assert route["metadata"]["annotations"]["9898.service.kuma.io/protocol"] == "http"


async def _envoy_requests(sandbox: SandboxState, service: str) -> float:
    """The requests Prometheus holds for the dataplanes of `service` (what the checks read)."""
    selector = f'envoy_cluster_upstream_rq{{service="{service}"}}'
    return await providers.prometheus_peak(sandbox, selector)


def _recorder(api: ApiClient, namespace: str) -> Recorder:
    return Recorder(
        api, namespace=namespace, name=NAME, route=TRAFFIC_ROUTE, weights_of=route_weights_of
    )


async def _remove_route(api: ApiClient, controller: Controller) -> None:
    """TrafficRoutes are cluster-scoped: stop the controller (so it writes none again), then
    delete this test's, which the next test's Canary would otherwise find held by this one."""
    await controller.stop()
    await resources.delete(api, TRAFFIC_ROUTE, NAME, namespace=None)


async def test_a_new_version_is_promoted_through_the_traffic_route(
    api: ApiClient, namespace: str, sandbox: SandboxState, controller: Controller
) -> None:
    recorder = _recorder(api, namespace)
    try:
        async with recorder.running():
            await _initialized(api, recorder, namespace)
            outcome = await providers.release(api, recorder, within=RUN_WITHIN)
            assert outcome.phase == "Succeeded", recorder.describe()
        assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
        assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.1"
        checks = await providers.canary_checks(api, NAME, namespace=namespace)
        assert checks["request-success-rate"]["value"] == 100, checks
        assert await _envoy_requests(sandbox, _tag(f"{NAME}-canary", namespace)) > 0
    finally:
        await _remove_route(api, controller)


async def test_a_failing_version_is_rolled_back_through_the_traffic_route(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    recorder = _recorder(api, namespace)
    try:
        async with recorder.running():
            await _initialized(api, recorder, namespace)
            outcome = await providers.release(
                api, recorder, within=RUN_WITHIN, annotations={ERROR_RATE_ANNOTATION: "0.5"}
            )
            assert outcome.phase == "Failed", recorder.describe()
        assert recorder.weights.last == (100, 0), recorder.describe()
        assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.0"
        checks = await providers.canary_checks(api, NAME, namespace=namespace)
        assert checks["request-success-rate"]["verdict"] == "Fail", checks
    finally:
        await _remove_route(api, controller)


# --- blue/green (analysis.iterations): Flagger's runBlueGreen with the Kuma router -----------


def _load_test_route(namespace: str) -> dict[str, Any]:
    """What a load tester in the mesh calling `podinfo-canary:9898` amounts to for Kuma: requests
    for the canary Service's `kuma.io/service` tag (a TrafficRoute of its own, 50 a second), so
    the canary's dataplanes report them while the blue/green analysis keeps every client's
    requests on the primary (Flagger's blue/green needs such a load test)."""
    tag = _tag(f"{NAME}-canary", namespace)
    return {
        "apiVersion": TRAFFIC_ROUTE.api_version,
        "kind": TRAFFIC_ROUTE.kind,
        "mesh": "default",
        "metadata": {"name": f"load-test-{namespace}", "annotations": {RATE_ANNOTATION: "50"}},
        "spec": {
            "sources": [{"match": {"kuma.io/service": "*"}}],
            "destinations": [{"match": {"kuma.io/service": tag}}],
            "conf": {"split": [{"weight": 100, "destination": {"kuma.io/service": tag}}]},
        },
    }


async def _blue_green(
    api: ApiClient, recorder: Recorder, namespace: str, *, error_rate: str | None
) -> str:
    """The example as blue/green (3 iterations of 2 s, 10 s metric windows, 2 failed checks to
    roll back) with a load test on the canary; a new version (failing `error_rate` of its
    requests) released; the phase it ends in."""
    await apply(api, _document("deployment.yaml", namespace))
    canary = _document("canary.yaml", namespace)
    analysis = canary["spec"]["analysis"]
    del analysis["maxWeight"], analysis["stepWeight"]
    analysis.update(interval="2s", threshold=2, iterations=3)
    for metric in analysis["metrics"]:
        metric["interval"] = "10s"
    await apply(api, canary)
    await recorder.until_phase("Initialized", within=60)
    await apply(api, _load_test_route(namespace))
    released = time.monotonic()
    annotations = {ERROR_RATE_ANNOTATION: error_rate} if error_rate else None
    await set_template(api, NAME, namespace=namespace, tag="6.7.1", annotations=annotations)
    outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
    return outcome.phase


async def _remove_routes(api: ApiClient, controller: Controller, namespace: str) -> None:
    await resources.delete(api, TRAFFIC_ROUTE, f"load-test-{namespace}", namespace=None)
    await _remove_route(api, controller)


async def test_blue_green_switches_the_traffic_route_at_once_after_the_iterations(
    api: ApiClient, namespace: str, sandbox: SandboxState, controller: Controller
) -> None:
    recorder = _recorder(api, namespace)
    try:
        async with recorder.running():
            phase = await _blue_green(api, recorder, namespace, error_rate=None)
            assert phase == "Succeeded", recorder.describe()
            await recorder.wait(
                lambda: recorder.weights.last == (100, 0), within=30, what="back on the primary"
            )
        # No client request reached the canary before the switch: no step between 0 and 100.
        assert recorder.canary_weights == [0, 100, 0], recorder.describe()
        primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
        assert image_of(primary) == f"{IMAGE}:6.7.1"
        canary = await get_canary(api, NAME, namespace=namespace)
        checks = {c["name"]: c for c in canary["status"]["checks"]}
        assert checks["request-success-rate"]["value"] == 100, checks
        assert await _envoy_requests(sandbox, _tag(f"{NAME}-canary", namespace)) > 0
    finally:
        await _remove_routes(api, controller, namespace)


async def test_blue_green_rolls_back_without_switching_the_traffic_route(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    recorder = _recorder(api, namespace)
    try:
        async with recorder.running():
            phase = await _blue_green(api, recorder, namespace, error_rate="0.5")
            assert phase == "Failed", recorder.describe()
        assert recorder.canary_weights == [0], recorder.describe()
        primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
        assert image_of(primary) == f"{IMAGE}:6.7.0"
        canary = await get_canary(api, NAME, namespace=namespace)
        checks = {c["name"]: c for c in canary["status"]["checks"]}
        assert checks["request-success-rate"]["verdict"] == "Fail", checks
    finally:
        await _remove_routes(api, controller, namespace)


# --- a TrafficRoute left behind by a Canary that is gone -------------------------------------


async def _ready_condition(api: ApiClient, namespace: str) -> dict[str, Any]:
    canary = await get_canary(api, NAME, namespace=namespace)
    conditions = (canary.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), {})


async def _namespace_gone(api: ApiClient, name: str) -> bool:
    return await resources.get(api, NAMESPACE, name, namespace=None) is None


async def test_a_traffic_route_left_by_a_canary_whose_namespace_went_is_taken_over(
    api: ApiClient, namespace: str, sandbox: SandboxState, controller: Controller, tmp_path: Path
) -> None:
    """TrafficRoutes are cluster-scoped, so no garbage collection deletes one with its Canary.
    Canary podinfo of namespace `gone` writes TrafficRoute podinfo; a Canary podinfo of the
    test's namespace is refused while that one exists; `gone` is deleted (its controller
    stopped first: nothing of ours runs for it); the test's Canary takes the route over, says
    so in an event, and releases a version through it as usual."""
    gone = f"{namespace}-gone"
    await resources.create(
        api,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": gone, "labels": {"canary.dev/test": "true"}},
        },
    )
    first = Controllers(sandbox, gone, tmp_path / "gone")
    try:
        await first.start()
        async with _recorder(api, gone).running() as recorded:
            await _initialized(api, recorded, gone)
        await first.started[0].stop()
        # The test's controller watches only its own namespace: the holder's absence can only
        # come from the API server, never from its cache.
        await apply(api, _document("deployment.yaml", namespace))
        canary = _document("canary.yaml", namespace)
        await apply(api, providers.shortened(canary, metric_interval="10s", stepWeight=10))
        refused = await eventually(
            lambda: _ready_condition(api, namespace),
            until=lambda ready: ready.get("reason") == "RouteInvalid",
            within=60,
            what="the Canary refused while the other one holds the route",
        )
        assert f"held by {gone}/{NAME}" in refused["message"], refused
        await resources.delete(api, NAMESPACE, gone, namespace=None)
        await eventually(
            lambda: _namespace_gone(api, gone), until=bool, within=120, what=f"{gone} deleted"
        )
        recorder = _recorder(api, namespace)
        async with recorder.running():
            await recorder.until_phase("Initialized", within=60)
            route = await resources.get(api, TRAFFIC_ROUTE, NAME, namespace=None)
            assert route is not None
            assert route["metadata"]["annotations"]["canary.dev/canary"] == f"{namespace}/{NAME}"
            assert route["spec"]["destinations"] == [
                {"match": {"kuma.io/service": _tag(NAME, namespace)}}
            ]
            adopted = [
                e
                for e in await events_of(api, NAME, namespace=namespace)
                if e.reason == "RouteAdopted"
            ]
            assert adopted, await events_of(api, NAME, namespace=namespace)
            assert f"left behind by Canary {gone}/{NAME}, which no longer exists" in (
                adopted[0].message
            )
            outcome = await providers.release(api, recorder, within=RUN_WITHIN)
            assert outcome.phase == "Succeeded", recorder.describe()
        assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    finally:
        for started in first.started:
            await started.stop()
        if not await _namespace_gone(api, gone):
            await resources.delete(api, NAMESPACE, gone, namespace=None)
        await _remove_route(api, controller)


async def test_a_traffic_route_goes_with_the_namespace_of_its_reverting_canary(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    """A Canary with revertOnDeletion whose namespace is deleted has nothing to revert to, and
    garbage collection takes its namespaced objects, but never its cluster-scoped TrafficRoute:
    the controller deletes that one before the Canary goes."""
    recorder = _recorder(api, namespace)
    try:
        target = _document("deployment.yaml", namespace)
        canary = _document("canary.yaml", namespace)
        canary["spec"]["revertOnDeletion"] = True
        async with recorder.running():
            await providers.initialized(api, recorder, target, canary, within=60)
        assert await resources.get(api, TRAFFIC_ROUTE, NAME, namespace=None) is not None
        await resources.delete(api, NAMESPACE, namespace, namespace=None)
        await providers.until_gone(api, TRAFFIC_ROUTE, NAME, namespace=None, within=60)
    finally:
        await _remove_route(api, controller)


async def test_a_traffic_route_goes_with_its_canary(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    """Deleting a Canary deletes its route object with every provider: garbage collection does
    it for the namespaced ones, the controller for Kuma's cluster-scoped TrafficRoute."""
    recorder = _recorder(api, namespace)
    try:
        async with recorder.running():
            await _initialized(api, recorder, namespace)
        await resources.delete(api, CANARY, NAME, namespace=namespace)
        await providers.until_gone(api, TRAFFIC_ROUTE, NAME, namespace=None, within=30)
    finally:
        await _remove_route(api, controller)
