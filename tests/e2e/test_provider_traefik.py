"""The `traefik` provider end to end, from examples/traefik: a TraefikService stepped to
promotion, a faulty version rolled back, blue/green with mirroring, each judged by the
builtin `request-success-rate` and `request-duration` (Flagger's Traefik queries) read from
Prometheus, where the mesh simulator exports Traefik's series for the TraefikServices it follows;
and `revertOnDeletion`, which keeps the TraefikService, routed to the apex Service.

The four scenarios run at once, in one namespace under one controller (four Canaries of four
Deployments: `podinfo`, `faulty`, `mirrored`, `kept`), so the file takes one release's time.
Only the namespace, the names, `analysis.interval` (2 s) and the thresholds are changed from
the examples.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, DEPLOYMENT, SERVICE, ResourceKind
from canary.routers.traefik import ROUTE as TRAEFIK_SERVICE
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    RATE_ANNOTATION,
    REPOSITORY,
    TEST_MANAGER,
    Recorder,
    apply,
    deployment,
    get_canary,
    get_deployment,
    image_of,
    set_template,
)
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")

EXAMPLES = REPOSITORY / "examples"
INGRESS_ROUTE = resources.resource_kind("traefik.io/v1alpha1", "IngressRoute")
RUN_WITHIN = 120.0


def traefik_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the TraefikService `name`: its weighted services' weights (the
    canary absent is 0), or (100, 0) while it mirrors the primary; None for other objects."""
    if (obj.get("metadata") or {}).get("name") != name:
        return None
    spec = obj.get("spec") or {}
    if "mirroring" in spec:
        return (100, 0)
    weights = {s.get("name"): int(s.get("weight", 1)) for s in spec["weighted"]["services"]}
    return (weights.get(f"{name}-primary", 0), weights.get(f"{name}-canary", 0))


def _documents(path: str, namespace: str) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all((EXAMPLES / path).read_text()) if d]
    for document in documents:
        document["metadata"]["namespace"] = namespace
    return documents


def _canary(path: str, namespace: str, name: str, **analysis: Any) -> dict[str, Any]:
    """The example Canary `path` for the Deployment `name`, with a 2 s interval."""
    [manifest] = _documents(path, namespace)
    manifest["metadata"]["name"] = name
    manifest["spec"]["targetRef"]["name"] = name
    manifest["spec"]["analysis"].update({"interval": "2s", **analysis})
    return manifest


def _checks(canary: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in (canary.get("status") or {}).get("checks") or []}


async def _release(
    api: ApiClient,
    namespace: str,
    manifest: dict[str, Any],
    target: dict[str, Any],
    *,
    faulty: bool = False,
    weights_of: Callable[[Mapping[str, Any], str], tuple[int, int] | None] = traefik_weights_of,
) -> tuple[str, Recorder]:
    """Apply `target` and `manifest`, release 6.7.1 (failing 30% of requests when `faulty`);
    the outcome and the recording of the TraefikService's weights."""
    name = manifest["metadata"]["name"]
    recorder = Recorder(
        api, namespace=namespace, name=name, route=TRAEFIK_SERVICE, weights_of=weights_of
    )
    async with recorder.running():
        await apply(api, target)
        await apply(api, manifest)
        await recorder.until_phase("Initialized", within=30)
        assert recorder.weights.last == (100, 0), recorder.describe()
        # 100 requests a second through the TraefikService (the simulator's rate for it; an
        # annotation the controller does not own, so it stays), for steady ratios at 10%.
        await resources.merge_patch(
            api,
            TRAEFIK_SERVICE,
            name,
            namespace=namespace,
            patch={"metadata": {"annotations": {RATE_ANNOTATION: "100"}}},
            field_manager=TEST_MANAGER,
        )
        released = time.monotonic()
        annotations = {ERROR_RATE_ANNOTATION: "0.3"} if faulty else None
        await set_template(api, name, namespace=namespace, tag="6.7.1", annotations=annotations)
        outcome = await recorder.outcome(since=released, within=RUN_WITHIN)
        await recorder.wait(
            lambda: recorder.weights.last == (100, 0), within=10, what="the primary routed"
        )
    return outcome.phase, recorder


async def _promoted(api: ApiClient, namespace: str) -> None:
    """examples/traefik as written: the podinfo Deployment, the IngressRoute, the Canary."""
    [target] = _documents("podinfo/deployment.yaml", namespace)
    for route in _documents("traefik/ingressroute.yaml", namespace):
        await apply(api, route)
    manifest = _canary("traefik/canary.yaml", namespace, "podinfo")
    phase, recorder = await _release(api, namespace, manifest, target)
    assert phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    primary = await get_deployment(api, "podinfo-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"
    checks = _checks(await get_canary(api, "podinfo", namespace=namespace))
    assert checks["request-success-rate"]["value"] >= 99, checks
    assert 0 < checks["request-duration"]["value"] <= 500, checks


async def _rolled_back(api: ApiClient, namespace: str) -> None:
    manifest = _canary("traefik/canary.yaml", namespace, "faulty", threshold=3)
    target = deployment("faulty", namespace=namespace)
    phase, recorder = await _release(api, namespace, manifest, target, faulty=True)
    assert phase == "Failed", recorder.describe()
    # Stopped on the way (a judged tick can pass on the few requests of its window).
    assert max(recorder.canary_weights) < 50, recorder.describe()
    assert recorder.canary_weights[-1] == 0, recorder.describe()
    primary = await get_deployment(api, "faulty-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.0"
    checks = _checks(await get_canary(api, "faulty", namespace=namespace))
    # Judged on Traefik's series of the canary Service: about 70% succeed.
    value = checks["request-success-rate"]["value"]
    assert value is not None, checks
    assert value < 99, checks


async def _mirrored(api: ApiClient, namespace: str) -> None:
    name = "mirrored"
    manifest = _canary("traefik/canary-mirroring.yaml", namespace, name, iterations=3)
    # The mirrored copies reach Prometheus a few seconds after the run starts: allow for the
    # first judged ticks (2 s apart here) to find no data.
    manifest["spec"]["analysis"]["threshold"] = 5
    target = deployment(name, namespace=namespace)
    mirroring: list[dict[str, Any]] = []

    def weights_of(obj: Mapping[str, Any], wanted: str) -> tuple[int, int] | None:
        spec = obj.get("spec") or {}
        if (obj.get("metadata") or {}).get("name") == wanted and "mirroring" in spec:
            mirroring.append(spec["mirroring"])
        return traefik_weights_of(obj, wanted)

    phase, recorder = await _release(api, namespace, manifest, target, weights_of=weights_of)
    assert phase == "Succeeded", recorder.describe()
    assert mirroring, "the TraefikService never mirrored during the run"
    assert mirroring[0]["name"] == "mirrored-primary"
    mirrors = [(m["name"], m["port"], m["percent"]) for m in mirroring[0]["mirrors"]]
    assert mirrors == [("mirrored-canary", 80, 100)]
    # Blue/green: all traffic switched at once, and back to the promoted primary.
    assert recorder.canary_weights == [0, 100, 0], recorder.describe()
    checks = _checks(await get_canary(api, name, namespace=namespace))
    assert checks["request-success-rate"]["value"] >= 99, checks
    primary = await get_deployment(api, "mirrored-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"


async def _get(api: ApiClient, kind: ResourceKind, name: str, namespace: str) -> Any:
    return await resources.get(api, kind, name, namespace=namespace)


async def _reverted_on_deletion(api: ApiClient, namespace: str) -> None:
    """revertOnDeletion: the TraefikService (which the IngressRoute names) outlives the Canary,
    sending everything to the apex Service, which selects the target's pods."""
    name = "kept"
    manifest = _canary("traefik/canary.yaml", namespace, name)
    manifest["spec"]["revertOnDeletion"] = True
    # Flagger's Traefik e2e: the apex metadata goes on the TraefikService too.
    apex = {"labels": {"test-label": "x"}, "annotations": {"test-annotation": "y"}}
    manifest["spec"]["service"]["apex"] = apex
    recorder = Recorder(
        api, namespace=namespace, name=name, route=TRAEFIK_SERVICE, weights_of=traefik_weights_of
    )
    async with recorder.running():
        await apply(api, deployment(name, namespace=namespace))
        await apply(api, manifest)
        await recorder.until_phase("Initialized", within=30)
    written = await _get(api, TRAEFIK_SERVICE, name, namespace)
    assert written["metadata"]["labels"]["test-label"] == "x"
    assert written["metadata"]["annotations"]["test-annotation"] == "y"
    await resources.delete(api, CANARY, name, namespace=namespace)
    await eventually(
        partial(_get, api, CANARY, name, namespace),
        until=lambda found: found is None,
        within=30,
        what="the Canary gone",
    )
    await eventually(  # garbage collection has run: the primary is gone
        partial(_get, api, DEPLOYMENT, f"{name}-primary", namespace),
        until=lambda found: found is None,
        within=30,
        what="the primary collected",
    )
    kept = await _get(api, TRAEFIK_SERVICE, name, namespace)
    assert kept is not None, "the TraefikService must outlive the Canary"
    assert not kept["metadata"].get("ownerReferences"), kept["metadata"]
    assert kept["spec"] == {
        "weighted": {
            "services": [{"name": name, "namespace": namespace, "port": 80, "weight": 100}]
        }
    }
    apex = await _get(api, SERVICE, name, namespace)
    assert apex["spec"]["selector"] == {"app": name}


async def test_traefik_promotes_rolls_back_and_mirrors_judged_by_traefiks_metrics(
    api: ApiClient, namespace: str
) -> None:
    async with asyncio.TaskGroup() as group:
        group.create_task(_promoted(api, namespace))
        group.create_task(_rolled_back(api, namespace))
        group.create_task(_mirrored(api, namespace))
        group.create_task(_reverted_on_deletion(api, namespace))
    routes = await resources.list_objects(api, INGRESS_ROUTE, namespace=namespace)
    assert [r["metadata"]["name"] for r in routes or []] == ["podinfo"]
