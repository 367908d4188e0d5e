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
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import CANARY, DEPLOYMENT, SERVICE, ResourceKind
from canary.routers.traefik import ROUTE as TRAEFIK_SERVICE
from tests.e2e import providers
from tests.e2e.harness import ERROR_RATE_ANNOTATION, IMAGE, REPOSITORY, Recorder, apply, deployment

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


def _canary(path: str, namespace: str, name: str, **analysis: Any) -> dict[str, Any]:
    """The example Canary `path` for the Deployment `name`, with a 2 s interval."""
    manifest = providers.example(EXAMPLES / path, namespace)
    manifest["metadata"]["name"] = name
    manifest["spec"]["targetRef"]["name"] = name
    return providers.shortened(manifest, **analysis)


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
        await providers.initialized(api, recorder, target, manifest)
        assert recorder.weights.last == (100, 0), recorder.describe()
        # 100 requests a second through the TraefikService (the simulator's rate for it; an
        # annotation the controller does not own, so it stays), for steady ratios at 10%.
        await providers.set_rate(api, TRAEFIK_SERVICE, name, namespace=namespace)
        annotations = {ERROR_RATE_ANNOTATION: "0.3"} if faulty else None
        outcome = await providers.release(api, recorder, within=RUN_WITHIN, annotations=annotations)
        await providers.back_on_primary(recorder, what="the primary routed")
    return outcome.phase, recorder


async def _promoted(api: ApiClient, namespace: str) -> None:
    """examples/traefik as written: the podinfo Deployment, the IngressRoute, the Canary."""
    target = providers.example(EXAMPLES / "podinfo/deployment.yaml", namespace)
    for route in providers.example_documents(EXAMPLES / "traefik/ingressroute.yaml", namespace):
        await apply(api, route)
    manifest = _canary("traefik/canary.yaml", namespace, "podinfo")
    phase, recorder = await _release(api, namespace, manifest, target)
    assert phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    assert await providers.primary_image(api, "podinfo", namespace=namespace) == f"{IMAGE}:6.7.1"
    checks = await providers.canary_checks(api, "podinfo", namespace=namespace)
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
    assert await providers.primary_image(api, "faulty", namespace=namespace) == f"{IMAGE}:6.7.0"
    checks = await providers.canary_checks(api, "faulty", namespace=namespace)
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
    checks = await providers.canary_checks(api, name, namespace=namespace)
    assert checks["request-success-rate"]["value"] >= 99, checks
    assert await providers.primary_image(api, "mirrored", namespace=namespace) == f"{IMAGE}:6.7.1"


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
        await providers.initialized(api, recorder, deployment(name, namespace=namespace), manifest)
    written = await _get(api, TRAEFIK_SERVICE, name, namespace)
    assert written["metadata"]["labels"]["test-label"] == "x"
    assert written["metadata"]["annotations"]["test-annotation"] == "y"
    await resources.delete(api, CANARY, name, namespace=namespace)
    await providers.until_gone(api, CANARY, name, namespace=namespace)
    # Garbage collection has run: the primary is gone.
    await providers.until_gone(api, DEPLOYMENT, f"{name}-primary", namespace=namespace)
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
