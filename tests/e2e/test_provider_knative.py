"""Provider `knative` end to end, from examples/knative: a Knative Service released by weights.

The sandbox has Knative Serving's CRDs but no Knative controller: `knative_double.KnativeDouble`
stands in for it (a Revision, its Deployment and private Service per new template, the Service's
status), and the mesh simulator splits the Service's requests by its `spec.traffic` and exports
Kourier's `envoy_cluster_upstream_rq*` series per Revision, which the builtin checks read from
Prometheus with Flagger's Knative queries. The example is applied as written, with shorter
intervals. A good Revision is promoted step by step (it becomes `flagger.app/primary-revision`
and gets all traffic); a failing one (half its requests answered 500) is rolled back, all traffic
on the primary Revision. Blue/green (`iterations`) keeps the block at 100/0 through the
iterations and switches it at once, the Revision judged under a load test of its own.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, DEPLOYMENT, KNATIVE_SERVICE
from canary.sandbox.state import SandboxState
from tests.e2e import providers
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    RATE_ANNOTATION,
    REPOSITORY,
    TEST_MANAGER,
    Recorder,
    apply,
    get_canary,
)
from tests.e2e.knative_double import KnativeDouble
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")

NAME = "podinfo"
EXAMPLE = REPOSITORY / "examples" / "knative"
PRIMARY_REVISION = "flagger.app/primary-revision"
RUN_WITHIN = 120.0


def _document(file: str, namespace: str) -> dict[str, Any]:
    return providers.example(EXAMPLE / file, namespace)


def traffic_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the Knative Service `name`'s traffic block, once the Canary has
    written one (the primary annotation set); None otherwise."""
    metadata = obj.get("metadata") or {}
    if metadata.get("name") != name or not (metadata.get("annotations") or {}).get(
        PRIMARY_REVISION
    ):
        return None
    entries = (obj.get("spec") or {}).get("traffic") or []
    if not entries:
        return None
    canary = sum(int(e.get("percent") or 0) for e in entries if e.get("latestRevision") is True)
    primary = sum(int(e.get("percent") or 0) for e in entries if e.get("revisionName"))
    return (primary, canary)


async def _service(api: ApiClient, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, KNATIVE_SERVICE, NAME, namespace=namespace)
    assert found is not None, f"Knative Service {namespace}/{NAME} does not exist"
    return found


async def _initialized(
    api: ApiClient, recorder: Recorder, namespace: str, *, revert: bool = False
) -> None:
    """Apply the example (2 s interval, 10 s metric windows, 2 failed checks to roll back;
    `revert`: revertOnDeletion)."""
    await apply(api, _document("service.yaml", namespace))
    await eventually(
        lambda: _service(api, namespace),
        until=lambda s: (s.get("status") or {}).get("latestReadyRevisionName") == f"{NAME}-00001",
        what="the first Revision ready",
    )
    canary = _document("canary.yaml", namespace)
    providers.shortened(canary, metric_interval="10s", threshold=2)
    if revert:
        canary["spec"]["revertOnDeletion"] = True
    await providers.initialized(api, recorder, canary, within=60)
    service = await _service(api, namespace)
    assert service["metadata"]["annotations"][PRIMARY_REVISION] == f"{NAME}-00001"
    assert service["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 0},
        {"revisionName": f"{NAME}-00001", "percent": 100},
    ]


async def _release(
    api: ApiClient, namespace: str, *, image: str, annotations: Mapping[str, str] | None = None
) -> None:
    """A new template, as `kubectl patch services.serving` does in Flagger's Knative test."""
    template: dict[str, Any] = {"spec": {"containers": [{**_container(namespace), "image": image}]}}
    if annotations:
        template["metadata"] = {"annotations": dict(annotations)}
    await resources.merge_patch(
        api,
        KNATIVE_SERVICE,
        NAME,
        namespace=namespace,
        patch={"spec": {"template": template}},
        field_manager=TEST_MANAGER,
    )


def _container(namespace: str) -> dict[str, Any]:
    container: dict[str, Any] = _document("service.yaml", namespace)["spec"]["template"]["spec"][
        "containers"
    ][0]
    return container


async def _envoy_requests(sandbox: SandboxState, namespace: str, revision: str) -> float:
    """The requests Prometheus holds for the Revision's Envoy cluster (what the checks read)."""
    selector = f'envoy_cluster_upstream_rq{{envoy_cluster_name="{namespace}/{revision}"}}'
    return await providers.prometheus_peak(sandbox, selector)


def _recorder(api: ApiClient, namespace: str) -> Recorder:
    return Recorder(
        api,
        namespace=namespace,
        name=NAME,
        route=KNATIVE_SERVICE,
        weights_of=traffic_weights_of,
        primary_kind=KNATIVE_SERVICE,  # no -primary copy: nothing of that name is ever seen
    )


async def test_a_new_knative_revision_is_promoted_step_by_step(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    recorder = _recorder(api, namespace)
    async with KnativeDouble(api, namespace=namespace).running(), recorder.running():
        await _initialized(api, recorder, namespace)
        released = time.monotonic()
        await _release(api, namespace, image="ghcr.io/stefanprodan/podinfo:6.0.1")
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", recorder.describe()
        assert outcome.promoted == f"{NAME}-00002", recorder.describe()
        await providers.back_on_primary(recorder, within=30, what="all traffic on the primary")
    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    service = await _service(api, namespace)
    assert service["metadata"]["annotations"][PRIMARY_REVISION] == f"{NAME}-00002"
    assert service["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 0},
        {"revisionName": f"{NAME}-00002", "percent": 100},
    ]
    checks = await providers.canary_checks(api, NAME, namespace=namespace)
    assert checks["request-success-rate"]["value"] == 100, checks
    assert await _envoy_requests(sandbox, namespace, f"{NAME}-00002") > 0


async def test_a_failing_knative_revision_is_rolled_back_to_the_primary_revision(
    api: ApiClient, namespace: str
) -> None:
    recorder = _recorder(api, namespace)
    async with KnativeDouble(api, namespace=namespace).running(), recorder.running():
        await _initialized(api, recorder, namespace)
        released = time.monotonic()
        await _release(
            api,
            namespace,
            image="ghcr.io/stefanprodan/podinfo:6.0.2",
            annotations={ERROR_RATE_ANNOTATION: "0.5"},
        )
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Failed", recorder.describe()
        await providers.back_on_primary(recorder, within=30, what="all traffic on the primary")
    service = await _service(api, namespace)
    assert service["metadata"]["annotations"][PRIMARY_REVISION] == f"{NAME}-00001"
    assert service["spec"]["traffic"][1] == {"revisionName": f"{NAME}-00001", "percent": 100}
    canary = await get_canary(api, NAME, namespace=namespace)
    checks = {c["name"]: c for c in canary["status"]["checks"]}
    assert checks["request-success-rate"]["verdict"] == "Fail", checks
    assert canary["status"]["lastPromotedSpec"] == f"{NAME}-00001"


async def test_deleting_after_a_failed_release_pins_the_traffic_to_the_primary_revision(
    api: ApiClient, namespace: str
) -> None:
    recorder = _recorder(api, namespace)
    async with KnativeDouble(api, namespace=namespace).running(), recorder.running():
        await _initialized(api, recorder, namespace, revert=True)
        released = time.monotonic()
        await _release(
            api,
            namespace,
            image="ghcr.io/stefanprodan/podinfo:6.0.2",
            annotations={ERROR_RATE_ANNOTATION: "0.5"},
        )
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Failed", recorder.describe()
        await resources.delete(api, CANARY, NAME, namespace=namespace)
        await providers.until_gone(api, CANARY, NAME, namespace=namespace, within=60)
    service = await _service(api, namespace)
    # The latest Revision was never promoted: everything stays on the primary's, pinned.
    assert service["spec"]["traffic"] == [{"revisionName": f"{NAME}-00001", "percent": 100}]
    assert PRIMARY_REVISION not in (service["metadata"].get("annotations") or {})


# --- blue/green (analysis.iterations): Flagger's runBlueGreen with the Knative router --------

# The Revision's own success rate, as a Linkerd proxy beside its pods reports it: during a
# blue/green analysis the Service sends the Revision none of its requests (Kourier's Envoy has
# nothing to report), so a load test calls the Revision directly, as Flagger's blue/green needs.
REVISION_SUCCESS_RATE = (
    'sum(rate(response_total{namespace="{{ namespace }}", deployment="{{ route }}-deployment", '
    'direction="inbound", classification="success"}[{{ interval }}])) / '
    'sum(rate(response_total{namespace="{{ namespace }}", deployment="{{ route }}-deployment", '
    'direction="inbound"}[{{ interval }}])) * 100'
)


async def _blue_green(
    api: ApiClient, recorder: Recorder, namespace: str, *, error_rate: str | None
) -> str:
    """The example as blue/green (3 iterations of 2 s, 3 failed checks to roll back) judged by
    the Revision's success rate under a load test of its own; a new Revision (failing
    `error_rate` of its requests) released; the phase it ends in."""
    await apply(api, _document("service.yaml", namespace))
    await eventually(
        lambda: _service(api, namespace),
        until=lambda s: (s.get("status") or {}).get("latestReadyRevisionName") == f"{NAME}-00001",
        what="the first Revision ready",
    )
    canary = _document("canary.yaml", namespace)
    analysis = canary["spec"]["analysis"]
    del analysis["maxWeight"], analysis["stepWeight"]
    analysis.update(interval="2s", threshold=3, iterations=3)
    analysis["metrics"] = [
        {
            "name": "revision-success-rate",
            "query": REVISION_SUCCESS_RATE,
            "interval": "10s",
            "thresholdRange": {"min": 99},
        }
    ]
    await apply(api, canary)
    await recorder.until_phase("Initialized", within=60)
    released = time.monotonic()
    annotations = {ERROR_RATE_ANNOTATION: error_rate} if error_rate else None
    await _release(
        api, namespace, image="ghcr.io/stefanprodan/podinfo:6.0.1", annotations=annotations
    )
    revision = f"{NAME}-00002-deployment"
    await eventually(
        lambda: resources.get(api, DEPLOYMENT, revision, namespace=namespace),
        until=lambda found: found is not None,
        what=f"Deployment {revision}",
    )
    await resources.merge_patch(  # the load test: 50 requests a second to the new Revision
        api,
        DEPLOYMENT,
        revision,
        namespace=namespace,
        patch={"metadata": {"annotations": {RATE_ANNOTATION: "50"}}},
        field_manager=TEST_MANAGER,
    )
    outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
    return outcome.phase


async def test_blue_green_switches_the_traffic_block_at_once_after_the_iterations(
    api: ApiClient, namespace: str
) -> None:
    recorder = _recorder(api, namespace)
    async with KnativeDouble(api, namespace=namespace).running(), recorder.running():
        phase = await _blue_green(api, recorder, namespace, error_rate=None)
        assert phase == "Succeeded", recorder.describe()
        await recorder.wait(
            lambda: recorder.weights.last == (100, 0), within=30, what="all traffic on the primary"
        )
    # No client request reached the new Revision before the switch: nothing between 0 and 100.
    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    service = await _service(api, namespace)
    assert service["metadata"]["annotations"][PRIMARY_REVISION] == f"{NAME}-00002"
    assert service["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 0},
        {"revisionName": f"{NAME}-00002", "percent": 100},
    ]
    canary = await get_canary(api, NAME, namespace=namespace)
    checks = {c["name"]: c for c in canary["status"]["checks"]}
    assert checks["revision-success-rate"]["value"] == 100, checks


async def test_blue_green_rolls_back_without_switching_the_traffic_block(
    api: ApiClient, namespace: str
) -> None:
    recorder = _recorder(api, namespace)
    async with KnativeDouble(api, namespace=namespace).running(), recorder.running():
        phase = await _blue_green(api, recorder, namespace, error_rate="0.5")
        assert phase == "Failed", recorder.describe()
    assert recorder.canary_weights == [0], recorder.describe()
    service = await _service(api, namespace)
    assert service["metadata"]["annotations"][PRIMARY_REVISION] == f"{NAME}-00001"
    assert service["spec"]["traffic"][1] == {"revisionName": f"{NAME}-00001", "percent": 100}
    canary = await get_canary(api, NAME, namespace=namespace)
    checks = {c["name"]: c for c in canary["status"]["checks"]}
    assert checks["revision-success-rate"]["verdict"] == "Fail", checks
