"""Provider `kuma` end to end, from examples/kuma: a Deployment released through a TrafficRoute.

The sandbox has Kuma's TrafficRoute CRD but no Kuma control plane: the mesh simulator follows
the TrafficRoute (its split of `podinfo_<namespace>_svc_9898` between the primary's and the
canary's `kuma.io/service` tags) and exports the dataplanes' `envoy_cluster_upstream_rq*`
series labelled `service`, which the builtin checks read from Prometheus with Flagger's Kuma
queries. The example is applied as written, with shorter intervals. A good version is promoted
step by step; a failing one (half its requests answered 500) is rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import TRAFFIC_ROUTE
from canary.sandbox.state import SandboxState
from tests.e2e import providers
from tests.e2e.harness import ERROR_RATE_ANNOTATION, IMAGE, REPOSITORY, Controller, Recorder

NAME = "podinfo"
EXAMPLE = REPOSITORY / "examples" / "kuma"
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
    query = f'sum(envoy_cluster_upstream_rq{{service="{service}"}})'
    return await providers.prometheus_sum(sandbox, query)


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
