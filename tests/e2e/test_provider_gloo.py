"""Provider gloo end to end, from examples/gloo: the controller writes the Upstreams and the
RouteTable, the mesh simulator follows the RouteTable and exports Gloo's Envoy cluster
statistics, and every release is judged by the builtin `request-success-rate` and
`request-duration` queries of Gloo (`envoy_cluster_upstream_rq{,_time_bucket}` of the
`<namespace>-podinfo-canaryupstream-9898_<namespace>` cluster) read from the sandbox's
Prometheus.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.resources import CANARY, ROUTE_TABLE, UPSTREAM
from canary.sandbox.crds import GLOO_CRDS, load_all
from tests.e2e import providers
from tests.e2e.harness import ERROR_RATE_ANNOTATION, IMAGE, REPOSITORY, Recorder, deployment

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
EXAMPLES = REPOSITORY / "examples" / "gloo"
RUN_WITHIN = 90.0


def route_table_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the first route of the RouteTable `name` to both Upstreams."""
    if (obj.get("metadata") or {}).get("name") != name:
        return None
    for route in (obj.get("spec") or {}).get("routes") or []:
        destinations = ((route.get("routeAction") or {}).get("multi") or {}).get("destinations")
        weights = {
            d["destination"]["upstream"]["name"].rsplit("-", 2)[-2]: int(d.get("weight", 0))
            for d in destinations or []
        }
        if set(weights) == {"primaryupstream", "canaryupstream"}:
            return (weights["primaryupstream"], weights["canaryupstream"])
    return None


def _example(file: str, namespace: str, **analysis: Any) -> dict[str, Any]:
    return providers.shortened(providers.example(EXAMPLES / file, namespace), **analysis)


async def _initialized(api: ApiClient, recorder: Recorder, manifest: dict[str, Any]) -> None:
    namespace = manifest["metadata"]["namespace"]
    config = providers.example(EXAMPLES / "upstream.yaml", namespace)
    target = deployment(NAME, namespace=namespace)
    await providers.initialized(api, recorder, config, target, manifest)
    await providers.set_rate(api, ROUTE_TABLE, NAME, namespace=namespace)


@pytest.fixture
async def recorder(api: ApiClient, namespace: str) -> Recorder:
    # A sandbox started before the Gloo CRDs were part of it lacks them.
    await install_crds(api, load_all(GLOO_CRDS))
    return Recorder(
        api,
        namespace=namespace,
        name=NAME,
        route=ROUTE_TABLE,
        weights_of=route_table_weights_of,
    )


async def test_gloo_example_steps_the_route_table_to_promotion(
    api: ApiClient, namespace: str, recorder: Recorder
) -> None:
    # Threshold 3: the first judged tick may come before the canary's traffic was scraped twice.
    manifest = _example("canary.yaml", namespace, threshold=3)
    async with recorder.running():
        await _initialized(api, recorder, manifest)
        canary_upstream = await resources.get(
            api, UPSTREAM, f"{namespace}-{NAME}-canaryupstream-9898", namespace=namespace
        )
        assert canary_upstream is not None
        spec = canary_upstream["spec"]
        assert spec["kube"] == {
            "serviceName": f"{NAME}-canary",
            "serviceNamespace": namespace,
            "servicePort": 9898,
            "selector": {"app": NAME},
        }
        # Copied from spec.upstreamRef, as Flagger's end-to-end test checks.
        slow_start = spec["loadBalancerConfig"]["roundRobin"]["slowStartConfig"]
        assert slow_start["minWeightPercent"] == 20
        table = await resources.get(api, ROUTE_TABLE, NAME, namespace=namespace)
        assert table is not None
        (route,) = table["spec"]["routes"]
        assert route["inheritablePathMatchers"] is True
        outcome = await providers.release(api, recorder, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()

    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.1"
    checks = await providers.canary_checks(api, NAME, namespace=namespace)
    assert checks["request-success-rate"]["verdict"] == "Pass", checks
    assert checks["request-success-rate"]["value"] == 100, checks
    assert checks["request-duration"]["verdict"] == "Pass", checks


async def test_gloo_rolls_back_a_version_envoy_sees_failing(
    api: ApiClient, namespace: str, recorder: Recorder
) -> None:
    manifest = _example("canary.yaml", namespace)
    async with recorder.running():
        await _initialized(api, recorder, manifest)
        outcome = await providers.release(
            api, recorder, within=RUN_WITHIN, annotations={ERROR_RATE_ANNOTATION: "0.3"}
        )
        assert outcome.phase == "Failed", recorder.describe()
        await providers.back_on_primary(recorder)

    assert outcome.failed_checks == 2
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.0"
    checks = await providers.canary_checks(api, NAME, namespace=namespace)
    success = checks["request-success-rate"]
    assert success["verdict"] == "Fail", success
    assert 60 < success["value"] < 80, success  # 30 % of the canary's responses fail


async def test_gloo_ab_example_sends_only_matching_requests_then_promotes(
    api: ApiClient, namespace: str, recorder: Recorder
) -> None:
    manifest = _example("canary-ab.yaml", namespace, iterations=3, threshold=3)
    async with recorder.running():
        await _initialized(api, recorder, manifest)
        table = await resources.get(api, ROUTE_TABLE, NAME, namespace=namespace)
        assert table is not None
        insider, rest = table["spec"]["routes"]
        assert insider["matchers"] == [{"headers": [{"name": "x-canary", "value": "insider"}]}]
        assert "matchers" not in rest
        outcome = await providers.release(api, recorder, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()

    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.1"


async def test_deleting_with_revert_on_deletion_keeps_the_route_table_on_the_apex_service(
    api: ApiClient, namespace: str, recorder: Recorder
) -> None:
    """A VirtualService delegates to the RouteTable: it is kept, sending to the apex Service."""
    manifest = _example("canary.yaml", namespace)
    manifest["spec"]["revertOnDeletion"] = True
    async with recorder.running():
        await _initialized(api, recorder, manifest)
    await resources.delete(api, CANARY, NAME, namespace=namespace)
    await providers.until_gone(api, CANARY, NAME, namespace=namespace)
    table = await resources.get(api, ROUTE_TABLE, NAME, namespace=namespace)
    assert table is not None
    assert not table["metadata"].get("ownerReferences"), table["metadata"]
    (route,) = table["spec"]["routes"]
    assert route["routeAction"] == {
        "single": {"kube": {"ref": {"name": NAME, "namespace": namespace}, "port": 9898}}
    }
