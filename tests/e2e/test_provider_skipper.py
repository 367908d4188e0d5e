"""Provider `skipper` end to end, from examples/skipper: the canary Ingress's backend weights
step a release to promotion, and a failing release is rolled back.

The mesh simulator plays Skipper: it routes the user's Ingress and the controller's
`podinfo-canary` Ingress as Skipper would and exports `skipper_*` per-route histograms, so every
release is judged by the `skipper` builtins (the canary Service's route of the canary Ingress)
read from the sandbox's Prometheus. Each test has its own namespace and controller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, INGRESS
from canary.routers.base import RouteRef
from canary.routers.skipper import PREDICATE, ingress_weights
from canary.sandbox.meshsim_objects import RATE_ANNOTATION
from tests.e2e import providers
from tests.e2e.harness import ERROR_RATE_ANNOTATION, IMAGE, REPOSITORY, Recorder, deployment

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
EXAMPLES = REPOSITORY / "examples" / "skipper"
RUN_WITHIN = 120.0


def _example(namespace: str, **analysis: Any) -> dict[str, Any]:
    manifest = providers.example(EXAMPLES / "canary.yaml", namespace)
    return providers.shortened(manifest, metric_interval="10s", **analysis)


def weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the canary Ingress `<name>-canary` while its routes are on."""
    metadata = obj.get("metadata") or {}
    if metadata.get("name") != f"{name}-canary":
        return None
    if str((metadata.get("annotations") or {}).get(PREDICATE, "")).startswith("False()"):
        return (100, 0)
    return ingress_weights(obj, RouteRef(str(metadata.get("namespace")), name, None))


async def _status(api: ApiClient, namespace: str) -> dict[str, Any]:
    canary = await resources.get(api, CANARY, NAME, namespace=namespace)
    assert canary is not None
    return dict(canary.get("status") or {})


async def _release(
    api: ApiClient,
    namespace: str,
    manifest: dict[str, Any],
    *,
    rate: str,
    annotations: Mapping[str, str] | None = None,
) -> tuple[str, dict[str, Any], Recorder]:
    """Apply the example's Ingress (at `rate` simulated requests a second), the target and
    `manifest`, then release 6.7.1 with `annotations`; the outcome and the recording."""
    recorder = Recorder(api, namespace=namespace, name=NAME, route=INGRESS, weights_of=weights_of)
    async with recorder.running():
        ingress = providers.example(EXAMPLES / "ingress.yaml", namespace)
        ingress["metadata"]["annotations"] = {RATE_ANNOTATION: rate}
        target = deployment(NAME, namespace=namespace)
        await providers.initialized(api, recorder, ingress, target, manifest)
        outcome = await providers.release(api, recorder, within=RUN_WITHIN, annotations=annotations)
        await providers.back_on_primary(recorder, what="the canary routes off")
    return outcome.phase, await _status(api, namespace), recorder


async def test_the_skipper_example_steps_the_backend_weights_to_promotion(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example(namespace, threshold=3, stepWeight=20, maxWeight=40)
    phase, status, recorder = await _release(api, namespace, manifest, rate="40")
    assert phase == "Succeeded", (status, recorder.describe())
    assert recorder.canary_weights == [0, 20, 40, 0], recorder.describe()
    checks = providers.checks_of(status)
    assert checks["request-success-rate"]["value"] == 100, checks
    assert checks["request-duration"]["verdict"] == "Pass", checks
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.1"
    canary_ingress = await resources.get(api, INGRESS, f"{NAME}-canary", namespace=namespace)
    assert canary_ingress is not None
    assert canary_ingress["metadata"]["annotations"][PREDICATE] == "False()"


async def test_a_failing_release_behind_skipper_is_rolled_back(
    api: ApiClient, namespace: str
) -> None:
    manifest = _example(namespace, threshold=2, stepWeight=10, maxWeight=50)
    phase, status, recorder = await _release(
        api, namespace, manifest, rate="100", annotations={ERROR_RATE_ANNOTATION: "0.3"}
    )
    assert phase == "Failed", (status, recorder.describe())
    assert recorder.canary_weights in ([0, 10, 0], [0, 10, 20, 0]), recorder.describe()
    success = providers.checks_of(status)["request-success-rate"]
    assert success["verdict"] == "Fail", success
    assert 60 < success["value"] < 80, success  # 30 % of the canary's responses fail
    assert await providers.primary_image(api, NAME, namespace=namespace) == f"{IMAGE}:6.7.0"
