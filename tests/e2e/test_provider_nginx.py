"""Provider `nginx` end to end, from examples/nginx: the canary Ingress steps a release to
promotion, a failing release is rolled back, and A/B testing routes by header and cookie.

The mesh simulator plays ingress-nginx: it follows the user's Ingress and the controller's
`podinfo-canary` Ingress and exports `nginx_ingress_controller_*` series, so every release is
judged by the `nginx` builtins (`canary!=""` requests of the Ingress named in `ingressRef`)
read from the sandbox's Prometheus. Each test has its own namespace and controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, INGRESS, SERVICE
from canary.routers.nginx import (
    BY_COOKIE,
    BY_HEADER,
    BY_HEADER_VALUE,
    WEIGHT,
    ingress_weights,
)
from canary.routers.nginx import (
    CANARY as CANARY_ANNOTATION,
)
from canary.sandbox.meshsim_objects import RATE_ANNOTATION
from tests.e2e import providers
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    REPOSITORY,
    Recorder,
    apply,
    deployment,
    get_deployment,
)
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
EXAMPLES = REPOSITORY / "examples" / "nginx"
RUN_WITHIN = 120.0


def _example(name: str, namespace: str, **analysis: Any) -> dict[str, Any]:
    """The example Canary with a 2 s interval, 10 s metric windows and `analysis` changes."""
    manifest = providers.example(EXAMPLES / name, namespace)
    return providers.shortened(manifest, metric_interval="10s", **analysis)


def canary_ingress_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the canary Ingress of the Ingress `name`; None for others."""
    if (obj.get("metadata") or {}).get("name") != f"{name}-canary":
        return None
    return ingress_weights(obj, ab=True)


async def _initialized(
    api: ApiClient, recorder: Recorder, manifest: dict[str, Any], *, rate: str = "40"
) -> dict[str, Any]:
    """The example's Ingress (at `rate` simulated requests a second), the target and the
    Canary applied, and initialized; the user's Ingress as applied."""
    namespace = manifest["metadata"]["namespace"]
    ingress = providers.example(EXAMPLES / "ingress.yaml", namespace)
    ingress["metadata"]["annotations"] = {RATE_ANNOTATION: rate}
    target = deployment(NAME, namespace=namespace)
    applied, _, _ = await providers.initialized(api, recorder, ingress, target, manifest)
    return applied


def _recorder(api: ApiClient, namespace: str) -> Recorder:
    return Recorder(
        api, namespace=namespace, name=NAME, route=INGRESS, weights_of=canary_ingress_weights_of
    )


async def _get(api: ApiClient, name: str, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, INGRESS, name, namespace=namespace)
    assert found is not None, f"Ingress {namespace}/{name}"
    return found


async def _status(api: ApiClient, namespace: str) -> dict[str, Any]:
    canary = await resources.get(api, CANARY, NAME, namespace=namespace)
    assert canary is not None
    return dict(canary.get("status") or {})


async def _released(
    api: ApiClient,
    recorder: Recorder,
    namespace: str,
    *,
    annotations: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    outcome = await providers.release(api, recorder, within=RUN_WITHIN, annotations=annotations)
    return outcome.phase, await _status(api, namespace)


async def test_the_nginx_example_steps_the_canary_ingress_to_promotion(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example("canary.yaml", namespace, threshold=3, stepWeight=20, maxWeight=40)
    recorder = _recorder(api, namespace)
    async with recorder.running():
        users = await _initialized(api, recorder, manifest)
        canary_ingress = await _get(api, f"{NAME}-canary", namespace)
        annotations = canary_ingress["metadata"]["annotations"]
        assert annotations[CANARY_ANNOTATION] == "false"
        assert WEIGHT not in annotations
        rules = canary_ingress["spec"]["rules"]
        assert rules[0]["host"] == "app.example.com"
        assert rules[0]["http"]["paths"][0]["backend"]["service"]["name"] == f"{NAME}-canary"
        assert canary_ingress["spec"]["ingressClassName"] == "nginx"
        assert canary_ingress["metadata"]["ownerReferences"][0]["kind"] == "Canary"
        phase, status = await _released(api, recorder, namespace)
        assert phase == "Succeeded", (status, recorder.describe())

    assert recorder.canary_weights == [0, 20, 40, 0], recorder.describe()
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.1"
    checks = providers.checks_of(status)
    success = checks["request-success-rate"]
    assert success["verdict"] == "Pass", checks
    assert success["value"] == 100, checks  # read from ingress-nginx's series of the canary
    assert checks["request-duration"]["verdict"] == "Pass", checks
    # The user's Ingress was never written.
    after = await _get(api, NAME, namespace)
    assert after["metadata"]["resourceVersion"] == users["metadata"]["resourceVersion"]
    ended = (await _get(api, f"{NAME}-canary", namespace))["metadata"]["annotations"]
    assert ended[CANARY_ANNOTATION] == "false"


async def test_a_failing_release_behind_nginx_is_rolled_back(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example("canary.yaml", namespace, threshold=2, stepWeight=10, maxWeight=50)
    recorder = _recorder(api, namespace)
    async with recorder.running():
        await _initialized(api, recorder, manifest, rate="100")
        phase, status = await _released(
            api, recorder, namespace, annotations={ERROR_RATE_ANNOTATION: "0.3"}
        )
        assert phase == "Failed", (status, recorder.describe())
        await providers.back_on_primary(recorder)

    assert recorder.canary_weights in ([0, 10, 0], [0, 10, 20, 0]), recorder.describe()
    assert status["failedChecks"] == 2
    success = providers.checks_of(status)["request-success-rate"]
    assert success["verdict"] == "Fail", success
    assert success["value"] is not None, success
    assert 60 < success["value"] < 80, success  # 30 % of the canary's responses fail
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.0"
    ended = (await _get(api, f"{NAME}-canary", namespace))["metadata"]["annotations"]
    assert ended[CANARY_ANNOTATION] == "false"


async def test_ab_testing_behind_nginx_routes_by_header_and_cookie(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example("canary-ab.yaml", namespace, threshold=3, iterations=3)
    recorder = _recorder(api, namespace)
    seen: list[dict[str, str]] = []

    def annotations_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
        weights = canary_ingress_weights_of(obj, name)
        if weights == (0, 100):
            seen.append(dict(obj["metadata"]["annotations"]))
        return weights

    recorder.weights_of = annotations_of
    async with recorder.running():
        await _initialized(api, recorder, manifest)
        phase, status = await _released(api, recorder, namespace)
        assert phase == "Succeeded", (status, recorder.describe())

    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    assert seen, recorder.describe()
    routed = seen[0]
    assert routed[CANARY_ANNOTATION] == "true"
    assert (routed[BY_HEADER], routed[BY_HEADER_VALUE], routed[BY_COOKIE]) == (
        "x-canary",
        "insider",
        "canary",
    )
    assert WEIGHT not in routed
    assert providers.checks_of(status)["request-success-rate"]["value"] == 100
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.1"


async def test_a_missing_ingress_is_shown_until_it_is_created(
    api: ApiClient, namespace: str
) -> None:
    """The Ingress named in `ingressRef` does not exist: the Canary says so (Ready=False) and
    is initialized once the Ingress is created, without any other change."""
    manifest = _example("canary.yaml", namespace)
    recorder = _recorder(api, namespace)
    async with recorder.running():
        await apply(api, deployment(NAME, namespace=namespace))
        await apply(api, manifest)

        async def ready_message() -> str:
            status = await _status(api, namespace)
            ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
            return str(ready[0].get("message")) if ready and ready[0]["status"] == "False" else ""

        message = await eventually(
            ready_message, until=lambda m: "spec.ingressRef" in m, within=30, what="Ready=False"
        )
        assert f"Ingress {namespace}/{NAME}" in message
        assert "does not exist" in message
        await apply(api, providers.example(EXAMPLES / "ingress.yaml", namespace))
        # Ingresses are not watched: the Canary is looked at again within half a minute.
        await recorder.until_phase("Initialized", within=60)
    assert (await _get(api, f"{NAME}-canary", namespace))["metadata"]["annotations"][
        CANARY_ANNOTATION
    ] == "false"


async def test_revert_on_deletion_leaves_the_users_ingress_serving_the_target(
    api: ApiClient, namespace: str
) -> None:
    """Deleting a Canary with `revertOnDeletion`: the apex Service selects the target's pods
    again and survives, the canary Ingress goes with the Canary, and the user's Ingress, never
    written, sends its requests to the apex Service as before the Canary."""
    manifest = _example("canary.yaml", namespace)
    manifest["spec"]["revertOnDeletion"] = True
    recorder = _recorder(api, namespace)
    async with recorder.running():
        users = await _initialized(api, recorder, manifest)
    await resources.delete(api, CANARY, NAME, namespace=namespace)

    async def state() -> tuple[bool, bool, dict[str, str], int]:
        gone = await resources.get(api, CANARY, NAME, namespace=namespace) is None
        canary_ingress = await resources.get(api, INGRESS, f"{NAME}-canary", namespace=namespace)
        apex = await resources.get(api, SERVICE, NAME, namespace=namespace)
        target = await get_deployment(api, NAME, namespace=namespace)
        selector = dict(((apex or {}).get("spec") or {}).get("selector") or {})
        return gone, canary_ingress is None, selector, int(target["spec"].get("replicas") or 0)

    await eventually(
        state,
        until=lambda s: s[0] and s[1] and s[2] == {"app": NAME} and s[3] > 0,
        within=60,
        what="the Canary and its canary Ingress gone, the apex Service on the target's pods",
    )
    after = await _get(api, NAME, namespace)
    assert after["metadata"]["resourceVersion"] == users["metadata"]["resourceVersion"]
