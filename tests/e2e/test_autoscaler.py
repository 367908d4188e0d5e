"""A release of a Deployment scaled by an HPA (`spec.autoscalerRef`), the controller running as
its own process and the sandbox's real HPA controller acting on the HPAs.

The primary gets `<hpa>-primary` (the target HPA's spec, scaling `<target>-primary` within
`primaryScalerReplicas`), which the HPA controller obeys; the target's HPA is left as written;
replica changes of the target and the primary, as HPAs make them, start no run; and a template
change is released and promoted with the primary's HPA, and the replicas it chose, in place.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient, AppsV1Api

from canary.kube import resources
from canary.kube.resources import DEPLOYMENT, HORIZONTAL_POD_AUTOSCALER
from tests.e2e.cycles import cycle_after_now
from tests.e2e.harness import (
    IMAGE,
    REPOSITORY,
    TEST_MANAGER,
    Controller,
    Recorder,
    apply,
    deployment,
    events_of,
    get_canary,
    get_deployment,
    image_of,
    set_template,
)
from tests.integration.waiting import eventually

NAME = "podinfo"
PRIMARY = f"{NAME}-primary"
HPA = "podinfo-hpa"
EXAMPLE = REPOSITORY / "examples" / "autoscaler"
PRIMARY_MIN, PRIMARY_MAX = 3, 6
INITIALIZED_WITHIN = 30.0
HPA_ACTS_WITHIN = 60.0  # the HPA controller syncs every 15 s
RUN_WITHIN = 90.0


def _hpa(namespace: str) -> dict[str, Any]:
    """The target's HPA from examples/autoscaler: 1 to 3 replicas on CPU (the sandbox has no
    metrics, so it only ever enforces its bounds, which is all these tests need of it)."""
    return _example("hpa.yaml", namespace)


def _example(name: str, namespace: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLE / name).read_text())
    manifest["metadata"]["namespace"] = namespace
    return manifest


async def _get(api: ApiClient, name: str, *, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, HORIZONTAL_POD_AUTOSCALER, name, namespace=namespace)
    assert found is not None, f"HorizontalPodAutoscaler {namespace}/{name} does not exist"
    return found


async def _replicas(api: ApiClient, name: str, *, namespace: str) -> tuple[int, int]:
    """(spec.replicas, status.availableReplicas) of the Deployment `name`."""
    found = await get_deployment(api, name, namespace=namespace)
    status = found.get("status") or {}
    return int(found["spec"].get("replicas") or 0), int(status.get("availableReplicas") or 0)


def _autoscaled_canary(namespace: str) -> dict[str, Any]:
    """The Canary of examples/autoscaler, analysing every 2 s."""
    manifest = _example("canary.yaml", namespace)
    manifest["spec"]["analysis"]["interval"] = "2s"
    assert manifest["spec"]["autoscalerRef"]["name"] == HPA
    assert manifest["spec"]["autoscalerRef"]["primaryScalerReplicas"] == {
        "minReplicas": PRIMARY_MIN,
        "maxReplicas": PRIMARY_MAX,
    }
    return manifest


def _spec_writers(hpa: dict[str, Any]) -> set[str]:
    """The field managers that wrote anything of the object but its status."""
    return {
        entry["manager"]
        for entry in hpa["metadata"].get("managedFields") or []
        if entry.get("subresource") != "status"
    }


async def test_an_autoscaled_target_is_released_with_the_primarys_own_hpa(
    api: ApiClient, namespace: str, controller: Controller
) -> None:
    target_hpa = await apply(api, _hpa(namespace))
    async with Recorder(api, namespace=namespace, name=NAME).running() as recorder:
        await apply(api, deployment(NAME, namespace=namespace))  # 2 replicas
        canary_object = await apply(api, _autoscaled_canary(namespace))
        await recorder.wait(
            lambda: recorder.phases[-1:] == ["Initialized"],
            within=INITIALIZED_WITHIN,
            what="phase Initialized",
        )
        initial = recorder.statuses.last
        assert initial is not None

        # The primary's HPA: the target HPA's spec, scaling the primary, with the given bounds.
        primary_hpa = await _get(api, f"{HPA}-primary", namespace=namespace)
        assert primary_hpa["spec"] == {
            **target_hpa["spec"],
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": PRIMARY},
            "minReplicas": PRIMARY_MIN,
            "maxReplicas": PRIMARY_MAX,
        }
        assert [
            (o["kind"], o["name"], o["uid"]) for o in primary_hpa["metadata"]["ownerReferences"]
        ] == [("Canary", NAME, canary_object["metadata"]["uid"])]
        # ... which the HPA controller obeys: it raises the primary (created at the target's 2).
        await eventually(
            partial(_replicas, api, PRIMARY, namespace=namespace),
            until=lambda replicas: replicas == (PRIMARY_MIN, PRIMARY_MIN),
            within=HPA_ACTS_WITHIN,
            what=f"the primary scaled to {PRIMARY_MIN} by its HPA",
        )
        # The target's HPA is left as written; with the target parked at 0 it stays idle.
        kept = await _get(api, HPA, namespace=namespace)
        assert kept["spec"] == target_hpa["spec"]
        assert _spec_writers(kept) == {TEST_MANAGER}
        assert (await _replicas(api, NAME, namespace=namespace))[0] == 0

        # Replicas changed as HPAs change them (the scale subresource, a patch of spec.replicas),
        # within each HPA's bounds so that neither HPA undoes them: no run starts.
        await AppsV1Api(api).patch_namespaced_deployment_scale(
            PRIMARY, namespace, {"spec": {"replicas": 5}}, field_manager="e2e-as-an-hpa"
        )
        await resources.merge_patch(
            api,
            DEPLOYMENT,
            NAME,
            namespace=namespace,
            patch={"spec": {"replicas": 1}},
            field_manager="e2e-as-an-hpa",
        )
        await eventually(
            partial(_replicas, api, PRIMARY, namespace=namespace),
            until=lambda replicas: replicas == (5, 5),
            within=30,
            what="the primary rolled out at 5 replicas",
        )
        await eventually(
            partial(_replicas, api, NAME, namespace=namespace),
            until=lambda replicas: replicas == (1, 1),
            within=30,
            what="the target rolled out at 1 replica",
        )
        await cycle_after_now(api, controller, name=NAME, namespace=namespace)
        assert "Progressing" not in recorder.phases, recorder.describe()
        assert recorder.statuses.last == initial, recorder.describe()
        reasons = {event.reason for event in await events_of(api, NAME, namespace=namespace)}
        assert reasons == {"Synced"}, "no new revision, nothing missing"
        assert (await _replicas(api, PRIMARY, namespace=namespace))[0] == 5

        # A template change is released and promoted; the primary keeps its HPA and replicas.
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        assert outcome.phase == "Succeeded", (
            (await get_canary(api, NAME, namespace=namespace)).get("status"),
            recorder.describe(),
        )

    assert recorder.canary_weights == [0, 25, 50, 0], recorder.describe()
    assert outcome.promoted not in {"", initial.promoted}
    primary = await get_deployment(api, PRIMARY, namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"
    assert primary["spec"]["replicas"] == 5, "the promotion left the replicas to the HPA"
    after = await _get(api, f"{HPA}-primary", namespace=namespace)
    assert after["metadata"]["uid"] == primary_hpa["metadata"]["uid"]
    assert after["spec"] == primary_hpa["spec"]
    assert (await _get(api, HPA, namespace=namespace))["spec"] == target_hpa["spec"]
    await eventually(
        partial(_replicas, api, NAME, namespace=namespace),
        until=lambda replicas: replicas[0] == 0,
        within=20,
        what="the target scaled to 0 after the promotion",
    )
