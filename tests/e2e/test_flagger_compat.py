"""Flagger's manifests, as written, released end to end on the sandbox.

Each Canary here is written as Flagger's tutorials and end-to-end scenarios write it (only the
`apiVersion` changed):
- the builtin `request-success-rate` and `request-duration` checks, with no MetricTemplate, for
  the `kubernetes` provider (blue/green) and for Gateway API. For these providers Flagger's
  builtins read the application's own `http_request_duration_seconds` histogram of the target's
  pods, which the sandbox's mesh simulator exports as podinfo would. A healthy version is
  promoted; a faulty one is rolled back for the check its fault breaks;
- for every provider, a Canary with Flagger's other fields: metrics bounded by the older
  `threshold`, labels and annotations for the apex, primary and canary Services,
  `portDiscovery`, a load-test webhook whose timeout exceeds the interval and whose `hey`
  command passes `-host`, `-H`, `-m` and `-d` (run by the project's load tester against a
  local target that records what it receives), and a controller copying the target's labels
  to the primary by prefix (Flagger's `-include-label-prefix`).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import HTTP_ROUTE, SERVICE
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    LATENCY_ANNOTATION,
    RATE_ANNOTATION,
    TEST_MANAGER,
    Recorder,
    apex_weights_of,
    apply,
    deployment,
    get_canary,
    get_deployment,
    http_route_weights_of,
    image_of,
    set_template,
)

NAME = "podinfo"
INITIALIZED_WITHIN = 30.0
RUN_WITHIN = 120.0

# Flagger's blue/green tutorial (docs/gitbook/tutorials/kubernetes-blue-green.md), intervals
# shortened for a test: the builtin checks only.
BLUE_GREEN = """
apiVersion: canary.dev/v1alpha1
kind: Canary
metadata:
  name: podinfo
spec:
  provider: kubernetes
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 9898
  analysis:
    interval: 2s
    threshold: 3
    iterations: 4
    metrics:
    - name: request-success-rate
      thresholdRange:
        min: 99
      interval: 10s
    - name: request-duration
      thresholdRange:
        max: 500
      interval: 10s
"""

# Flagger's Gateway API tutorial (docs/gitbook/tutorials/gatewayapi-progressive-delivery.md),
# intervals shortened: the builtin checks only.
GATEWAY_API = """
apiVersion: canary.dev/v1alpha1
kind: Canary
metadata:
  name: podinfo
spec:
  provider: gatewayapi:v1
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: podinfo
  progressDeadlineSeconds: 60
  service:
    port: 9898
    targetPort: 9898
    hosts:
     - www.example.com
    gatewayRefs:
      - name: gateway
        namespace: istio-ingress
  analysis:
    interval: 2s
    threshold: 3
    maxWeight: 30
    stepWeight: 10
    metrics:
    - name: request-success-rate
      thresholdRange:
        min: 99
      interval: 10s
    - name: request-duration
      thresholdRange:
        max: 500
      interval: 10s
"""


def _manifest(text: str, namespace: str, **analysis: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(text)
    manifest["metadata"]["namespace"] = namespace
    manifest["spec"]["analysis"].update(analysis)
    return manifest


def _checks(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in status.get("checks") or []}


async def _status(api: ApiClient, namespace: str) -> dict[str, Any]:
    return dict((await get_canary(api, NAME, namespace=namespace)).get("status") or {})


async def _release(
    api: ApiClient,
    recorder: Recorder,
    manifest: dict[str, Any],
    *,
    target: dict[str, Any],
    template: dict[str, Any] | None = None,
) -> str:
    """Apply `target` and `manifest`, wait for Initialized, release 6.7.1; the outcome."""
    namespace = manifest["metadata"]["namespace"]
    await apply(api, target)
    await apply(api, manifest)
    await recorder.until_phase("Initialized", within=INITIALIZED_WITHIN)
    if manifest["spec"]["provider"].startswith("gatewayapi"):
        # 100 requests a second through the route, so the canary's 10 % is enough for a p99.
        await resources.merge_patch(
            api,
            HTTP_ROUTE,
            NAME,
            namespace=namespace,
            patch={"metadata": {"annotations": {RATE_ANNOTATION: "100"}}},
            field_manager=TEST_MANAGER,
        )
    released = time.monotonic()
    await set_template(api, NAME, namespace=namespace, tag="6.7.1", **(template or {}))
    outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
    return outcome.phase


def _blue_green_target(namespace: str) -> dict[str, Any]:
    """The target, with requests of its own (what Flagger's tutorial's load tester sends to
    podinfo-canary): the apex Service carries traffic only after the switch."""
    target = deployment(NAME, namespace=namespace)
    target["metadata"]["annotations"] = {RATE_ANNOTATION: "50"}
    return target


def _blue_green_recorder(api: ApiClient, namespace: str) -> Recorder:
    return Recorder(api, namespace=namespace, name=NAME, route=SERVICE, weights_of=apex_weights_of)


def _gateway_recorder(api: ApiClient, namespace: str) -> Recorder:
    return Recorder(
        api, namespace=namespace, name=NAME, route=HTTP_ROUTE, weights_of=http_route_weights_of
    )


async def _assert_primary_runs(api: ApiClient, namespace: str, *, tag: str) -> None:
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:{tag}"


@pytest.mark.usefixtures("controller")
async def test_blue_green_with_builtin_metrics_is_promoted(api: ApiClient, namespace: str) -> None:
    recorder = _blue_green_recorder(api, namespace)
    async with recorder.running():
        phase = await _release(
            api, recorder, _manifest(BLUE_GREEN, namespace), target=_blue_green_target(namespace)
        )
        assert phase == "Succeeded", (await _status(api, namespace), recorder.describe())
    checks = _checks(await _status(api, namespace))
    assert checks["request-success-rate"]["verdict"] == "Pass", checks
    assert checks["request-success-rate"]["value"] == 100, checks
    # 20 ms mean latency: a p99 in milliseconds (converted from the histogram's seconds).
    assert 20 < checks["request-duration"]["value"] < 500, checks
    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    await _assert_primary_runs(api, namespace, tag="6.7.1")


@pytest.mark.usefixtures("controller")
async def test_blue_green_with_builtin_metrics_rolls_back_errors(
    api: ApiClient, namespace: str
) -> None:
    recorder = _blue_green_recorder(api, namespace)
    async with recorder.running():
        phase = await _release(
            api,
            recorder,
            _manifest(BLUE_GREEN, namespace, threshold=2),
            target=_blue_green_target(namespace),
            template={"annotations": {ERROR_RATE_ANNOTATION: "0.3"}},
        )
        assert phase == "Failed", (await _status(api, namespace), recorder.describe())
    success = _checks(await _status(api, namespace))["request-success-rate"]
    assert success["verdict"] == "Fail", success
    assert 60 < success["value"] < 80, success  # 30 % of the responses fail
    assert recorder.canary_weights == [0], recorder.describe()
    await _assert_primary_runs(api, namespace, tag="6.7.0")


@pytest.mark.usefixtures("controller")
async def test_gateway_api_with_builtin_metrics_is_promoted(api: ApiClient, namespace: str) -> None:
    recorder = _gateway_recorder(api, namespace)
    async with recorder.running():
        phase = await _release(
            api,
            recorder,
            _manifest(GATEWAY_API, namespace),
            target=deployment(NAME, namespace=namespace),
        )
        assert phase == "Succeeded", (await _status(api, namespace), recorder.describe())
    checks = _checks(await _status(api, namespace))
    assert checks["request-success-rate"]["value"] == 100, checks
    assert 20 < checks["request-duration"]["value"] < 500, checks
    assert recorder.canary_weights == [0, 10, 20, 30, 0], recorder.describe()
    await _assert_primary_runs(api, namespace, tag="6.7.1")


@pytest.mark.usefixtures("controller")
async def test_gateway_api_with_builtin_metrics_rolls_back_a_slow_version(
    api: ApiClient, namespace: str
) -> None:
    recorder = _gateway_recorder(api, namespace)
    async with recorder.running():
        phase = await _release(
            api,
            recorder,
            _manifest(GATEWAY_API, namespace, threshold=2),
            target=deployment(NAME, namespace=namespace),
            template={"annotations": {LATENCY_ANNOTATION: "800"}},
        )
        assert phase == "Failed", (await _status(api, namespace), recorder.describe())
    checks = _checks(await _status(api, namespace))
    assert checks["request-duration"]["verdict"] == "Fail", checks
    assert checks["request-duration"]["value"] > 500, checks
    assert checks["request-success-rate"]["verdict"] == "Pass", checks
    assert recorder.weights.last == (100, 0), recorder.describe()
    await _assert_primary_runs(api, namespace, tag="6.7.0")


def _sticky_cookie(http_route: dict[str, Any]) -> str | None:
    """The cookie the first rule matches on, when it sends everything to the canary."""
    first = http_route["spec"]["rules"][0]
    weights = {ref["name"]: ref.get("weight") for ref in first["backendRefs"]}
    if weights != {f"{NAME}-primary": 0, f"{NAME}-canary": 100}:
        return None
    (header,) = first["matches"][0]["headers"]
    assert header["name"] == "Cookie"
    return str(header["value"])


@pytest.mark.usefixtures("controller")
async def test_gateway_api_session_affinity_keeps_cookie_holders_on_the_canary(
    api: ApiClient, namespace: str
) -> None:
    """Flagger's Gateway API session-affinity tutorial: while the canary has weight, a rule sends
    requests with the run's cookie to the canary, which sets it; after the run it is expired."""
    manifest = _manifest(
        GATEWAY_API,
        namespace,
        sessionAffinity={"cookieName": "flagger-cookie", "maxAge": 21600},
    )
    recorder = _gateway_recorder(api, namespace)
    async with recorder.running():
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, manifest)
        await recorder.until_phase("Initialized", within=INITIALIZED_WITHIN)
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        await recorder.wait(
            lambda: any(weight > 0 for weight in recorder.canary_weights),
            within=RUN_WITHIN,
            what="the canary's first weight",
        )
        during = await resources.get(api, HTTP_ROUTE, NAME, namespace=namespace)
        assert during is not None
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", (await _status(api, namespace), recorder.describe())
        await recorder.wait(
            lambda: recorder.weights.last == (100, 0), within=10, what="all traffic to primary"
        )

    cookie = during["metadata"]["annotations"]["canary.dev/session-affinity-cookie"]
    name, value = cookie.split("=")
    assert name == "flagger-cookie"
    assert _sticky_cookie(during) == f".*flagger-cookie.*{value}.*"
    weighted = during["spec"]["rules"][-1]
    canary_ref = next(r for r in weighted["backendRefs"] if r["name"] == f"{NAME}-canary")
    set_cookie = canary_ref["filters"][0]["responseHeaderModifier"]["add"]
    assert set_cookie == [{"name": "Set-Cookie", "value": f"{cookie}; Max-Age=21600"}]
    after = await resources.get(api, HTTP_ROUTE, NAME, namespace=namespace)
    assert after is not None
    expire = after["spec"]["rules"][0]
    assert expire["filters"][-1]["responseHeaderModifier"]["add"] == [
        {"name": "Set-Cookie", "value": f"{cookie}; Max-Age=-1"}
    ]
    assert _sticky_cookie(after) is None
