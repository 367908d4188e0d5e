"""The routers end to end, each from its example in `examples/`: Gateway API canary steps,
blue/green with plain Services, A/B testing (HTTPRoute matches, SMI HTTPRouteGroups), mirroring.

Each test applies the example (intervals shortened), the error-rate MetricTemplate of
`examples/podinfo`, and a podinfo-like Deployment; the controller is its own process; the
recorder follows the route object the provider writes (HTTPRoute, apex Service, TrafficSplit).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.resources import HTTP_ROUTE, SERVICE, resource_kind
from canary.sandbox.crds import HTTP_ROUTE_GROUP_CRD, TRAFFIC_SPLIT_CRD, load
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    RATE_ANNOTATION,
    REPOSITORY,
    Recorder,
    apex_weights_of,
    apply,
    deployment,
    get_deployment,
    http_route_weights_of,
    image_of,
    set_template,
)

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
EXAMPLES = REPOSITORY / "examples"
HTTP_ROUTE_GROUP = resource_kind("specs.smi-spec.io/v1alpha3", "HTTPRouteGroup")
RUN_WITHIN = 120.0


def _example(path: str, namespace: str, **analysis: Any) -> dict[str, Any]:
    """The example manifest in `namespace`, with a 2 s interval and `analysis` changes."""
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / path).read_text())
    manifest["metadata"]["namespace"] = namespace
    manifest["spec"]["analysis"].update({"interval": "2s", **analysis})
    return manifest


async def _initialized(
    api: ApiClient, recorder: Recorder, manifest: dict[str, Any], *, target: dict[str, Any]
) -> None:
    namespace = manifest["metadata"]["namespace"]
    metric_template: dict[str, Any] = yaml.safe_load(
        (EXAMPLES / "podinfo/metrictemplate.yaml").read_text()
    )
    metric_template["metadata"]["namespace"] = namespace
    await apply(api, metric_template)
    await apply(api, target)
    await apply(api, manifest)
    await recorder.until_phase("Initialized", within=30)


async def _route(api: ApiClient, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, HTTP_ROUTE, NAME, namespace=namespace)
    assert found is not None
    return found


async def _released(
    api: ApiClient, recorder: Recorder, namespace: str, **template: Any
) -> tuple[str, float]:
    released = time.monotonic()
    await set_template(api, NAME, namespace=namespace, tag="6.7.1", **template)
    outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
    return outcome.phase, released


async def test_gateway_api_example_steps_the_http_route_to_promotion(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example("gatewayapi/canary.yaml", namespace, threshold=3)
    recorder = Recorder(
        api, namespace=namespace, name=NAME, route=HTTP_ROUTE, weights_of=http_route_weights_of
    )
    async with recorder.running():
        await _initialized(api, recorder, manifest, target=deployment(NAME, namespace=namespace))
        route = await _route(api, namespace)
        assert route["spec"]["parentRefs"] == [
            {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public"}
        ]
        assert route["spec"]["hostnames"] == ["podinfo.example.com"]
        assert route["spec"]["rules"][0]["timeouts"] == {"request": "30s"}
        phase, _ = await _released(api, recorder, namespace)
        assert phase == "Succeeded", recorder.describe()

    assert recorder.canary_weights == [0, 10, 30, 50, 0], recorder.describe()
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"


def _blue_green_target(namespace: str) -> dict[str, Any]:
    """The target, with requests of its own (as a load tester would send to podinfo-canary):
    the apex Service only carries traffic after the switch."""
    target = deployment(NAME, namespace=namespace)
    target["metadata"]["annotations"] = {RATE_ANNOTATION: "20"}
    return target


async def _blue_green_release(
    api: ApiClient, namespace: str, *, threshold: int, **template: Any
) -> tuple[str, Recorder]:
    """Release 6.7.1 with the blue/green example (3 iterations); its outcome and the recording
    of the apex Service's selector as weights."""
    manifest = _example("bluegreen/canary.yaml", namespace, iterations=3, threshold=threshold)
    recorder = Recorder(
        api, namespace=namespace, name=NAME, route=SERVICE, weights_of=apex_weights_of
    )
    async with recorder.running():
        await _initialized(api, recorder, manifest, target=_blue_green_target(namespace))
        assert recorder.weights.last == (100, 0), recorder.describe()
        phase, _ = await _released(api, recorder, namespace, **template)
        await recorder.wait(
            lambda: recorder.weights.last == (100, 0), within=10, what="the apex on the primary"
        )
    return phase, recorder


async def test_blue_green_example_switches_the_apex_service_only_at_promotion(
    api: ApiClient, namespace: str
) -> None:
    phase, recorder = await _blue_green_release(api, namespace, threshold=3)
    assert phase == "Succeeded", recorder.describe()
    # The apex selected the canary's pods exactly once: from the switch until the promoted
    # primary was ready.
    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    switched = [s.value for s in recorder.statuses.samples if s.value.weight == 100]
    assert switched, recorder.describe()
    assert {view.phase for view in switched} <= {"Promoting", "Finalising"}
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"


async def test_blue_green_rolls_back_without_ever_switching_the_apex_service(
    api: ApiClient, namespace: str
) -> None:
    phase, recorder = await _blue_green_release(
        api, namespace, threshold=2, annotations={ERROR_RATE_ANNOTATION: "0.3"}
    )
    assert phase == "Failed", recorder.describe()
    assert recorder.canary_weights == [0], recorder.describe()
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.0"


async def test_ab_testing_example_routes_only_matching_requests_to_the_canary(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example("ab-testing/canary.yaml", namespace, iterations=3, threshold=3)
    recorder = Recorder(
        api, namespace=namespace, name=NAME, route=HTTP_ROUTE, weights_of=http_route_weights_of
    )
    async with recorder.running():
        await _initialized(api, recorder, manifest, target=deployment(NAME, namespace=namespace))
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        await recorder.wait(
            lambda: recorder.weights.last == (0, 100), within=30, what="matches on the canary"
        )
        route = await _route(api, namespace)
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()

    matched, rest = route["spec"]["rules"]
    assert [m.get("headers") for m in matched["matches"]] == [
        [{"type": "Exact", "name": "x-canary", "value": "insider"}],
        [
            {
                "type": "RegularExpression",
                "name": "cookie",
                "value": "^(.*?;)?(canary=always)(;.*)?$",
            }
        ],
    ]
    assert {r["name"]: r["weight"] for r in matched["backendRefs"]} == {
        f"{NAME}-primary": 0,
        f"{NAME}-canary": 100,
    }
    assert [(r["name"], r["weight"]) for r in rest["backendRefs"]] == [(f"{NAME}-primary", 100)]
    assert rest["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"


async def test_ab_testing_through_smi_v1alpha3_matches_with_an_http_route_group(
    api: ApiClient, namespace: str
) -> None:
    # A sandbox started by an older version may lack the HTTPRouteGroup CRD: install both.
    await install_crds(api, [load(TRAFFIC_SPLIT_CRD), load(HTTP_ROUTE_GROUP_CRD)])
    manifest = _example(
        "ab-testing/canary.yaml",
        namespace,
        iterations=2,
        threshold=3,
        match=[{"headers": {"x-canary": {"exact": "insider"}}}],
    )
    manifest["spec"]["provider"] = "smi:v1alpha3"
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await _initialized(api, recorder, manifest, target=deployment(NAME, namespace=namespace))
        phase, _ = await _released(api, recorder, namespace)
        assert phase == "Succeeded", recorder.describe()

    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    group = await resources.get(api, HTTP_ROUTE_GROUP, NAME, namespace=namespace)
    assert group is not None
    assert group["spec"]["matches"] == [{"name": "match-0", "headers": {"x-canary": "^insider$"}}]
    split = await resources.get(
        api, resource_kind("split.smi-spec.io/v1alpha3", "TrafficSplit"), NAME, namespace=namespace
    )
    assert split is not None
    assert split["spec"]["matches"] == [
        {"kind": "HTTPRouteGroup", "name": NAME, "apiGroup": "specs.smi-spec.io"}
    ]


async def test_mirroring_copies_requests_to_the_canary_until_the_switch(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example("gatewayapi/canary.yaml", namespace, threshold=3)
    analysis = manifest["spec"]["analysis"]
    del analysis["stepWeights"]
    analysis.update({"iterations": 3, "mirror": True, "mirrorWeight": 100})
    recorder = Recorder(
        api, namespace=namespace, name=NAME, route=HTTP_ROUTE, weights_of=http_route_weights_of
    )
    async with recorder.running():
        await _initialized(api, recorder, manifest, target=deployment(NAME, namespace=namespace))
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        await recorder.until_phase("Progressing", within=30)
        mirrored = await _route(api, namespace)
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()

    assert mirrored["spec"]["rules"][0]["filters"] == [
        {
            "type": "RequestMirror",
            "requestMirror": {
                "backendRef": {
                    "group": "",
                    "kind": "Service",
                    "name": f"{NAME}-canary",
                    "port": 9898,
                },
                "percent": 100,
            },
        }
    ]
    # The canary passed its checks on mirrored requests alone, before any weight moved to it.
    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    assert "filters" not in (await _route(api, namespace))["spec"]["rules"][0]
