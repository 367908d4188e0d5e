"""Istio end to end: examples/istio released on the sandbox, judged by Istio's builtin metrics.

The sandbox has Istio's CRDs (from the pinned istio.io/api module) and no Istio: the mesh
simulator follows the VirtualService the controller writes and exports what the sidecars would
(`istio_requests_total`, `istio_request_duration_milliseconds`), which Prometheus scrapes and
the builtin `request-success-rate` and `request-duration` read, with Flagger's Istio queries.
Scenarios run concurrently, each in its own namespace, under one controller watching them all:
the example promoted step by step and a faulty version rolled back; A/B testing, blue/green
with mirroring, sticky sessions, a delegate VirtualService behind the user's root one; and a
VirtualService the user made before the Canary, adopted and given back as it was when the
Canary goes with revertOnDeletion.

What the tests change in the example, and only that: the namespace, the intervals (2 s between
steps, 10 s metric windows), so a release takes seconds, and the threshold (5: on a loaded
machine the first checks of a run may come before Prometheus has two scrapes of the canary's
new series, and "no data" fails a check).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, DESTINATION_RULE, VIRTUAL_SERVICE, resource_kind
from canary.routers.base import RouteError, RouteRef
from canary.routers.istio_objects import ORIGINAL_ANNOTATION, virtual_service_weights
from tests.e2e import providers
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    RATE_ANNOTATION,
    REPOSITORY,
    Controllers,
    Recorder,
    apply,
    deployment,
)

NAME = "podinfo"
EXAMPLE = REPOSITORY / "examples" / "istio"
RUN_WITHIN = 120.0
NAMESPACE = resource_kind("v1", "Namespace")


@contextlib.asynccontextmanager
async def _namespaces(api: ApiClient, stem: str, count: int) -> AsyncIterator[list[str]]:
    """`count` fresh namespaces for concurrent scenarios, deleted afterwards."""
    names = [f"{stem}-{i}-{uuid.uuid4().hex[:6]}" for i in range(count)]
    labels = {"canary.dev/test": "true", "istio-injection": "enabled"}
    for name in names:
        manifest = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        await apply(api, manifest | {"metadata": {"name": name, "labels": labels}})
    try:
        yield names
    finally:
        for name in names:
            await resources.delete(api, NAMESPACE, name, namespace=None)


async def _controller_for(controllers: Controllers, namespaces: list[str]) -> None:
    """One controller for every scenario's namespace (stopped by the fixture)."""
    controllers.namespace = ",".join(namespaces)
    await controllers.start()


def _example(namespace: str, **analysis: Any) -> dict[str, Any]:
    """examples/istio/canary.yaml in `namespace`, 2 s steps, 10 s metric windows, threshold 5,
    then `analysis`."""
    manifest = providers.example(EXAMPLE / "canary.yaml", namespace)
    providers.shortened(manifest, threshold=5)
    return providers.shortened(manifest, metric_interval="10s", **analysis)


def vs_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the VirtualService `name`; None for others or a malformed one."""
    metadata = obj.get("metadata") or {}
    if metadata.get("name") != name:
        return None
    route = RouteRef(namespace=str(metadata.get("namespace", "")), apex=name, owner=None)
    try:
        return virtual_service_weights(obj, route)
    except RouteError:
        return None


class _Seen:
    """Every version of the VirtualService the recorder saw, through its weights reader."""

    def __init__(self) -> None:
        self.specs: list[dict[str, Any]] = []

    def __call__(self, obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
        weights = vs_weights_of(obj, name)
        if weights is not None:
            self.specs.append(dict(obj.get("spec") or {}))
        return weights


async def _start(
    api: ApiClient, namespace: str, canary: dict[str, Any], *, seen: _Seen | None = None
) -> Recorder:
    recorder = Recorder(
        api, namespace=namespace, name=NAME, route=VIRTUAL_SERVICE, weights_of=seen or vs_weights_of
    )
    await apply(api, providers.example(EXAMPLE / "gateway.yaml", namespace))
    target = deployment(NAME, namespace=namespace)
    await apply(api, target)
    await apply(api, canary)
    return recorder


async def _release(
    api: ApiClient, recorder: Recorder, *, annotations: Mapping[str, str] | None = None
) -> str:
    await recorder.until_phase("Initialized", within=30)
    outcome = await providers.release(api, recorder, within=RUN_WITHIN, annotations=annotations)
    return outcome.phase


async def _promoted_example(api: ApiClient, namespace: str) -> None:
    recorder = await _start(api, namespace, _example(namespace))
    async with recorder.running():
        phase = await _release(api, recorder)
        assert phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.1"
    checks = await providers.canary_checks(api, NAME, namespace=namespace)
    assert checks["request-success-rate"]["verdict"] == "Pass", checks
    assert checks["request-success-rate"]["value"] == 100, checks
    assert checks["request-duration"]["verdict"] == "Pass", checks

    vs = await resources.get(api, VIRTUAL_SERVICE, NAME, namespace=namespace)
    assert vs is not None
    assert vs["spec"]["hosts"] == ["podinfo.example.com", NAME]
    assert vs["spec"]["gateways"] == ["public-gateway", "mesh"]
    (http,) = vs["spec"]["http"]
    assert http["timeout"] == "30s"
    assert http["retries"] == {
        "attempts": 3,
        "perTryTimeout": "1s",
        "retryOn": "gateway-error,connect-failure,refused-stream",
    }
    assert http["headers"] == {"request": {"add": {"x-envoy-upstream-rq-timeout-ms": "15000"}}}
    for name in (f"{NAME}-primary", f"{NAME}-canary"):
        rule = await resources.get(api, DESTINATION_RULE, name, namespace=namespace)
        assert rule is not None
        assert rule["spec"] == {"host": name, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}


async def _rolled_back(api: ApiClient, namespace: str) -> None:
    recorder = await _start(api, namespace, _example(namespace))
    async with recorder.running():
        phase = await _release(api, recorder, annotations={ERROR_RATE_ANNOTATION: "0.5"})
        assert phase == "Failed", recorder.describe()
        await providers.back_on_primary(recorder)
    assert max(recorder.canary_weights) < 50, recorder.describe()
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.0"
    checks = await providers.canary_checks(api, NAME, namespace=namespace)
    success = checks["request-success-rate"]
    assert success["verdict"] == "Fail", success
    assert success["value"] is not None, success  # judged on data, not on its absence
    assert success["value"] < 99, success


async def test_istio_example_is_promoted_and_a_faulty_version_rolled_back(
    api: ApiClient, controllers: Controllers
) -> None:
    async with _namespaces(api, "istio-release", 2) as (promoted, rolled_back):
        await _controller_for(controllers, [promoted, rolled_back])
        async with asyncio.TaskGroup() as group:
            group.create_task(_promoted_example(api, promoted))
            group.create_task(_rolled_back(api, rolled_back))


async def _ab_testing(api: ApiClient, namespace: str) -> None:
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    canary = _example(namespace, iterations=3, match=match)
    for key in ("maxWeight", "stepWeight"):
        del canary["spec"]["analysis"][key]
    seen = _Seen()
    recorder = await _start(api, namespace, canary, seen=seen)
    async with recorder.running():
        assert await _release(api, recorder) == "Succeeded", recorder.describe()
    matched = [s for s in seen.specs if len(s.get("http") or []) == 2]
    assert matched, seen.specs
    first, rest = matched[-1]["http"]
    assert first["match"] == [{"headers": {"x-canary": {"exact": "insider"}}}]
    assert rest["route"] == [{"destination": {"host": f"{NAME}-primary"}, "weight": 100}]
    assert (0, 100) in recorder.weights.values, recorder.describe()


async def _blue_green_mirrored(api: ApiClient, namespace: str) -> None:
    canary = _example(namespace, iterations=3, mirror=True, mirrorWeight=50)
    for key in ("maxWeight", "stepWeight"):
        del canary["spec"]["analysis"][key]
    seen = _Seen()
    recorder = await _start(api, namespace, canary, seen=seen)
    async with recorder.running():
        assert await _release(api, recorder) == "Succeeded", recorder.describe()
    mirrored = [s["http"][0] for s in seen.specs if "mirror" in s["http"][0]]
    assert mirrored, seen.specs
    assert mirrored[0]["mirror"] == {"host": f"{NAME}-canary"}
    assert mirrored[0]["mirrorPercentage"] == {"value": 50}
    # Blue/green: the canary got live traffic only all at once, after the mirrored analysis.
    assert set(recorder.canary_weights) <= {0, 100}, recorder.describe()
    assert (await providers.primary_image(api, NAME, namespace=namespace)).endswith(":6.7.1")


async def _sticky_sessions(api: ApiClient, namespace: str) -> None:
    canary = _example(namespace, stepWeight=25, sessionAffinity={"cookieName": "flagger-cookie"})
    seen = _Seen()
    recorder = await _start(api, namespace, canary, seen=seen)
    async with recorder.running():
        assert await _release(api, recorder) == "Succeeded", recorder.describe()
    pinned = [s["http"] for s in seen.specs if s["http"][0].get("name") == "sticky-route"]
    assert pinned, seen.specs
    sticky, weighted = pinned[0]
    cookie_match = sticky["match"][0]["headers"]["Cookie"]["regex"]
    assert cookie_match.startswith(".*flagger-cookie.*"), sticky
    set_cookie = weighted["route"][1]["headers"]["response"]["add"]["Set-Cookie"]
    assert set_cookie.startswith("flagger-cookie="), weighted
    # Promoted: the last cookie is expired on its holders' next request.
    vs = await resources.get(api, VIRTUAL_SERVICE, NAME, namespace=namespace)
    assert vs is not None
    expire = vs["spec"]["http"][0]
    assert expire["headers"]["response"]["add"]["Set-Cookie"].endswith("; Max-Age=-1"), vs


async def _delegated(api: ApiClient, namespace: str) -> None:
    """Flagger's test-delegation.sh: the user's root VirtualService delegates to the Canary's."""
    root = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "root", "namespace": namespace},
        "spec": {
            "hosts": ["podinfo.example.com"],
            "gateways": ["public-gateway"],
            "http": [{"match": [{"uri": {"prefix": "/"}}], "delegate": {"name": NAME}}],
        },
    }
    await apply(api, root)
    canary = _example(namespace)
    service = canary["spec"]["service"]
    service.update(delegation=True, hosts=[], gateways=[])
    recorder = await _start(api, namespace, canary)
    async with recorder.running():
        assert await _release(api, recorder) == "Succeeded", recorder.describe()
    delegate = await resources.get(api, VIRTUAL_SERVICE, NAME, namespace=namespace)
    assert delegate is not None
    assert (delegate["spec"]["hosts"], delegate["spec"]["gateways"]) == ([], [])
    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()


async def test_istio_ab_testing_blue_green_with_mirroring_sticky_sessions_and_delegation(
    api: ApiClient, controllers: Controllers
) -> None:
    async with _namespaces(api, "istio-routing", 4) as (ab, mirrored, sticky, delegated):
        await _controller_for(controllers, [ab, mirrored, sticky, delegated])
        async with asyncio.TaskGroup() as group:
            group.create_task(_ab_testing(api, ab))
            group.create_task(_blue_green_mirrored(api, mirrored))
            group.create_task(_sticky_sessions(api, sticky))
            group.create_task(_delegated(api, delegated))


USERS_VS_SPEC = {
    "hosts": [NAME],
    "http": [{"route": [{"destination": {"host": NAME}}]}],
}


async def test_istio_gives_a_users_virtual_service_back_on_deletion(
    api: ApiClient, namespace: str, controllers: Controllers
) -> None:
    users = {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": NAME, "namespace": namespace, "annotations": {RATE_ANNOTATION: "5"}},
        "spec": USERS_VS_SPEC,
    }
    await apply(api, users)
    await controllers.start()
    canary = _example(namespace)
    canary["spec"]["revertOnDeletion"] = True
    recorder = await _start(api, namespace, canary)
    async with recorder.running():
        await recorder.until_phase("Initialized", within=30)
    adopted = await resources.get(api, VIRTUAL_SERVICE, NAME, namespace=namespace)
    assert adopted is not None
    assert "ownerReferences" not in adopted["metadata"], adopted["metadata"]
    assert ORIGINAL_ANNOTATION in adopted["metadata"]["annotations"]
    assert vs_weights_of(adopted, NAME) == (100, 0)

    await resources.delete(api, CANARY, NAME, namespace=namespace)
    await providers.until_gone(api, CANARY, NAME, namespace=namespace)
    given_back = await resources.get(api, VIRTUAL_SERVICE, NAME, namespace=namespace)
    assert given_back is not None
    assert given_back["spec"] == USERS_VS_SPEC
    assert ORIGINAL_ANNOTATION not in (given_back["metadata"].get("annotations") or {})
    for name in (f"{NAME}-primary", f"{NAME}-canary"):
        assert await resources.get(api, DESTINATION_RULE, name, namespace=namespace) is None
