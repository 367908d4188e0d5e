"""Provider contour end to end, from examples/contour: the controller writes the HTTPProxy, the
mesh simulator follows it and exports Contour's Envoy cluster statistics, and every release is
judged by the builtin `request-success-rate` and `request-duration` queries of Contour
(`envoy_cluster_upstream_rq{,_time_bucket}` of the `<namespace>_podinfo-canary_9898` cluster)
read from the sandbox's Prometheus.

Each test applies an example Canary (interval shortened) with the example's root HTTPProxy and
a podinfo-like Deployment; the recorder follows the HTTPProxy's weighted route.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, HTTP_PROXY, SERVICE
from tests.e2e import providers
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    REPOSITORY,
    Recorder,
    deployment,
    events_including,
)

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
EXAMPLES = REPOSITORY / "examples" / "contour"
RUN_WITHIN = 90.0


def http_proxy_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the first route of the HTTPProxy `name` that sends to both."""
    if (obj.get("metadata") or {}).get("name") != name:
        return None
    for route in (obj.get("spec") or {}).get("routes") or []:
        weights = {s.get("name"): int(s.get("weight", 0)) for s in route.get("services") or []}
        if set(weights) == {f"{name}-primary", f"{name}-canary"}:
            return (weights[f"{name}-primary"], weights[f"{name}-canary"])
    return None


def _example(file: str, namespace: str, **analysis: Any) -> dict[str, Any]:
    return providers.shortened(providers.example(EXAMPLES / file, namespace), **analysis)


async def _initialized(api: ApiClient, recorder: Recorder, manifest: dict[str, Any]) -> None:
    namespace = manifest["metadata"]["namespace"]
    root = providers.example(EXAMPLES / "httpproxy.yaml", namespace)
    target = deployment(NAME, namespace=namespace)
    await providers.initialized(api, recorder, root, target, manifest)
    # 100 requests a second through the HTTPProxy, so the canary's first 10 % see failures
    # from the first second when it has any.
    await providers.set_rate(api, HTTP_PROXY, NAME, namespace=namespace)


async def _proxy(api: ApiClient, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, HTTP_PROXY, NAME, namespace=namespace)
    assert found is not None
    return found


def _recorder(api: ApiClient, namespace: str) -> Recorder:
    return Recorder(
        api,
        namespace=namespace,
        name=NAME,
        route=HTTP_PROXY,
        weights_of=http_proxy_weights_of,
    )


async def test_contour_example_steps_the_http_proxy_to_promotion(
    api: ApiClient, namespace: str
) -> None:
    # Threshold 3: the first judged tick may come before the canary's traffic was scraped twice.
    manifest = _example("canary.yaml", namespace, threshold=3)
    async with _recorder(api, namespace).running() as recorder:
        await _initialized(api, recorder, manifest)
        proxy = await _proxy(api, namespace)
        (route,) = proxy["spec"]["routes"]
        assert route["conditions"] == [{"prefix": "/"}]
        assert route["timeoutPolicy"] == {"response": "15s", "idle": "5m"}
        assert route["retryPolicy"] == {"count": 3, "perTryTimeout": "5s"}
        assert [s["name"] for s in route["services"]] == [f"{NAME}-primary", f"{NAME}-canary"]
        assert route["services"][1]["requestHeadersPolicy"] == {
            "set": [
                {
                    "name": "l5d-dst-override",
                    "value": f"{NAME}-canary.{namespace}.svc.cluster.local:9898",
                }
            ]
        }
        assert proxy["metadata"]["ownerReferences"][0]["kind"] == "Canary"
        outcome = await providers.release(api, recorder, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()

    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.1"
    checks = await providers.canary_checks(api, NAME, namespace=namespace)
    # Judged by Envoy's statistics of the canary's cluster, read through Prometheus.
    assert checks["request-success-rate"]["verdict"] == "Pass", checks
    assert checks["request-success-rate"]["value"] == 100, checks
    assert checks["request-duration"]["verdict"] == "Pass", checks
    assert 0 < checks["request-duration"]["value"] < 500, checks


async def test_contour_rolls_back_a_version_envoy_sees_failing(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example("canary.yaml", namespace)
    async with _recorder(api, namespace).running() as recorder:
        await _initialized(api, recorder, manifest)
        outcome = await providers.release(
            api, recorder, within=RUN_WITHIN, annotations={ERROR_RATE_ANNOTATION: "0.3"}
        )
        assert outcome.phase == "Failed", recorder.describe()
        await providers.back_on_primary(recorder)

    assert outcome.failed_checks == 2
    assert max(recorder.canary_weights) <= 20, recorder.describe()
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.0"
    checks = await providers.canary_checks(api, NAME, namespace=namespace)
    success = checks["request-success-rate"]
    assert success["verdict"] == "Fail", success
    assert 60 < success["value"] < 80, success  # 30 % of the canary's responses fail
    await events_including(api, NAME, namespace=namespace, reason="Rollback")


async def test_contour_ab_example_sends_only_matching_requests_then_promotes(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example("canary-ab.yaml", namespace, iterations=3, threshold=3)
    async with _recorder(api, namespace).running() as recorder:
        await _initialized(api, recorder, manifest)
        proxy = await _proxy(api, namespace)
        insider, cookie, rest = proxy["spec"]["routes"]
        assert insider["conditions"] == [
            {"prefix": "/"},
            {"header": {"name": "x-canary", "exact": "insider"}},
        ]
        assert cookie["conditions"][1]["header"]["name"] == "cookie"
        assert rest["conditions"] == [{"prefix": "/"}]
        assert [s["weight"] for s in rest["services"]] == [100, 0]
        outcome = await providers.release(api, recorder, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()

    # The matching requests went to the canary for the whole analysis, then back.
    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    checks = await providers.canary_checks(api, NAME, namespace=namespace)
    assert checks["request-success-rate"]["verdict"] == "Pass", checks
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.1"


async def test_deleting_with_revert_on_deletion_keeps_the_http_proxy_on_the_apex_service(
    api: ApiClient, namespace: str
) -> None:
    """The root HTTPProxy includes `podinfo`: deleting it would leave the include leading
    nowhere, so the controller points it at the apex Service, which outlives the Canary."""
    manifest = _example("canary.yaml", namespace)
    manifest["spec"]["revertOnDeletion"] = True
    async with _recorder(api, namespace).running() as recorder:
        await _initialized(api, recorder, manifest)
    await resources.delete(api, CANARY, NAME, namespace=namespace)
    await providers.until_gone(api, CANARY, NAME, namespace=namespace)
    proxy = await _proxy(api, namespace)
    assert not proxy["metadata"].get("ownerReferences"), proxy["metadata"]
    (route,) = proxy["spec"]["routes"]
    assert [(s["name"], s["port"], s["weight"]) for s in route["services"]] == [(NAME, 9898, 100)]
    assert route["timeoutPolicy"] == {"response": "15s", "idle": "5m"}  # the rest is kept
    apex = await resources.get(api, SERVICE, NAME, namespace=namespace)
    assert apex is not None
    assert apex["spec"]["selector"] == {"app": NAME}  # the target's pods
