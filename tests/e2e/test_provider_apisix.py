"""The `apisix` provider end to end, from examples/apisix: the canary copy of the user's
ApisixRoute stepped to promotion, a faulty version rolled back, each judged by the builtin
`request-success-rate` and `request-duration` (Flagger's APISIX queries) read from Prometheus,
where the mesh simulator exports APISIX's series for the ApisixRoutes it follows; and
`revertOnDeletion`, which deletes the copy and leaves the user's ApisixRoute as it was; and a
routeRef naming a route that does not exist yet, refused by name until it does.

The four scenarios run at once, in one namespace under one controller (four Canaries of four
Deployments, each with its own ApisixRoute: `podinfo`, `faulty`, `kept`, `late`). Only the
namespace, the names, `analysis.interval` (2 s) and the thresholds are changed from the
examples.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from functools import partial
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.controller.pacing import STEADY_RECHECK
from canary.kube import resources
from canary.kube.resources import CANARY, DEPLOYMENT, SERVICE, ResourceKind
from canary.routers.apisix import ROUTE as APISIX_ROUTE
from tests.e2e import providers
from tests.e2e.harness import (
    ERROR_RATE_ANNOTATION,
    IMAGE,
    RATE_ANNOTATION,
    REPOSITORY,
    Recorder,
    apply,
    deployment,
)
from tests.integration.waiting import eventually

pytestmark = pytest.mark.usefixtures("controller")

EXAMPLES = REPOSITORY / "examples"
RUN_WITHIN = 120.0


def copy_weights_of(obj: Mapping[str, Any], name: str) -> tuple[int, int] | None:
    """(primary, canary) of the canary copy `<name>-<name>-canary` (routeRef and apex are both
    `name` here); None for any other ApisixRoute."""
    if (obj.get("metadata") or {}).get("name") != f"{name}-{name}-canary":
        return None
    [rule] = obj["spec"]["http"]
    weights = {b["serviceName"]: int(b.get("weight", 100)) for b in rule["backends"]}
    return (weights.get(f"{name}-primary", 0), weights.get(f"{name}-canary", 0))


def _original(namespace: str, name: str) -> dict[str, Any]:
    """The example ApisixRoute named `name`, sending to the Service `name`, with the simulator's
    rate for it (100 requests a second; the copy carries the annotation over)."""
    route = providers.example(EXAMPLES / "apisix/apisixroute.yaml", namespace)
    route["metadata"]["name"] = name
    route["metadata"]["annotations"] = {RATE_ANNOTATION: "100"}
    route["spec"]["http"][0]["backends"][0]["serviceName"] = name
    return route


def _canary(namespace: str, name: str, **analysis: Any) -> dict[str, Any]:
    """The example Canary for the Deployment and ApisixRoute `name`, with a 2 s interval."""
    manifest = providers.example(EXAMPLES / "apisix/canary.yaml", namespace)
    manifest["metadata"]["name"] = name
    manifest["spec"]["targetRef"]["name"] = name
    manifest["spec"]["routeRef"]["name"] = name
    return providers.shortened(manifest, **analysis)


async def _get(api: ApiClient, kind: ResourceKind, name: str, namespace: str) -> Any:
    return await resources.get(api, kind, name, namespace=namespace)


async def _release(
    api: ApiClient, namespace: str, name: str, target: dict[str, Any], *, faulty: bool = False
) -> tuple[str, Recorder]:
    recorder = Recorder(
        api, namespace=namespace, name=name, route=APISIX_ROUTE, weights_of=copy_weights_of
    )
    async with recorder.running():
        canary = _canary(namespace, name, threshold=3)
        await providers.initialized(api, recorder, target, _original(namespace, name), canary)
        assert recorder.weights.last == (100, 0), recorder.describe()
        annotations = {ERROR_RATE_ANNOTATION: "0.3"} if faulty else None
        outcome = await providers.release(api, recorder, within=RUN_WITHIN, annotations=annotations)
        await providers.back_on_primary(recorder, what="the primary routed")
    return outcome.phase, recorder


async def _promoted(api: ApiClient, namespace: str) -> None:
    target = providers.example(EXAMPLES / "podinfo/deployment.yaml", namespace)
    phase, recorder = await _release(api, namespace, "podinfo", target)
    assert phase == "Succeeded", recorder.describe()
    assert recorder.canary_weights == [0, 10, 20, 30, 40, 50, 0], recorder.describe()
    assert await providers.primary_image(api, "podinfo", namespace=namespace) == f"{IMAGE}:6.7.1"
    checks = await providers.canary_checks(api, "podinfo", namespace=namespace)
    assert checks["request-success-rate"]["value"] >= 99, checks
    assert 0 < checks["request-duration"]["value"] <= 500, checks
    copied = await _get(api, APISIX_ROUTE, "podinfo-podinfo-canary", namespace)
    [rule] = copied["spec"]["http"]
    assert (rule["name"], rule["priority"]) == ("method", 10000)
    assert rule["match"]["hosts"] == ["app.example.com"]
    original = await _get(api, APISIX_ROUTE, "podinfo", namespace)
    assert original["spec"]["http"][0]["backends"] == [
        {"serviceName": "podinfo", "servicePort": 80}
    ]


async def _rolled_back(api: ApiClient, namespace: str) -> None:
    target = deployment("faulty", namespace=namespace)
    phase, recorder = await _release(api, namespace, "faulty", target, faulty=True)
    assert phase == "Failed", recorder.describe()
    assert max(recorder.canary_weights) < 50, recorder.describe()
    assert await providers.primary_image(api, "faulty", namespace=namespace) == f"{IMAGE}:6.7.0"
    checks = await providers.canary_checks(api, "faulty", namespace=namespace)
    value = checks["request-success-rate"]["value"]
    assert value is not None
    assert value < 99  # the copy's route: the canary's errors among the primary's successes


async def _reverted_on_deletion(api: ApiClient, namespace: str) -> None:
    name = "kept"
    manifest = _canary(namespace, name)
    manifest["spec"]["revertOnDeletion"] = True
    recorder = Recorder(
        api, namespace=namespace, name=name, route=APISIX_ROUTE, weights_of=copy_weights_of
    )
    async with recorder.running():
        target = deployment(name, namespace=namespace)
        await providers.initialized(api, recorder, target, _original(namespace, name), manifest)
        assert recorder.weights.last == (100, 0), recorder.describe()
    await resources.delete(api, CANARY, name, namespace=namespace)
    for kind, gone in ((CANARY, name), (APISIX_ROUTE, f"{name}-{name}-canary")):
        await providers.until_gone(api, kind, gone, namespace=namespace)
    await providers.until_gone(api, DEPLOYMENT, f"{name}-primary", namespace=namespace)  # collected
    original = await _get(api, APISIX_ROUTE, name, namespace)
    assert original is not None, "the user's ApisixRoute must be left alone"
    assert original["spec"]["http"][0]["backends"] == [{"serviceName": name, "servicePort": 80}]
    apex = await _get(api, SERVICE, name, namespace)
    assert apex["spec"]["selector"] == {"app": name}


def _ready(canary: Mapping[str, Any] | None) -> Mapping[str, Any]:
    conditions = ((canary or {}).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == "Ready"), {})


async def _route_created_late(api: ApiClient, namespace: str) -> None:
    """A routeRef naming no ApisixRoute: the Canary says so (Ready=False, naming the field)
    and writes nothing; once the route exists it initializes."""
    name = "late"
    await apply(api, deployment(name, namespace=namespace))
    await apply(api, _canary(namespace, name))
    ready = await eventually(
        partial(_get, api, CANARY, name, namespace),
        until=lambda found: (
            _ready(found).get("status") == "False"
            and "spec.routeRef" in _ready(found).get("message", "")
        ),
        within=30,
        what="Ready=False naming spec.routeRef",
    )
    assert "does not exist" in _ready(ready)["message"], _ready(ready)
    assert await _get(api, APISIX_ROUTE, f"{name}-{name}-canary", namespace) is None
    await apply(api, _original(namespace, name))
    # ApisixRoutes are not watched: an invalid Canary is looked at again within a minute
    # (pacing.STEADY_RECHECK), so initialization follows within that.
    await eventually(
        partial(_get, api, CANARY, name, namespace),
        until=lambda found: ((found or {}).get("status") or {}).get("phase") == "Initialized",
        within=STEADY_RECHECK + 30,
        what="phase Initialized once the route exists",
    )
    assert await _get(api, APISIX_ROUTE, f"{name}-{name}-canary", namespace) is not None


async def test_apisix_promotes_rolls_back_and_reverts_judged_by_apisixs_metrics(
    api: ApiClient, namespace: str
) -> None:
    async with asyncio.TaskGroup() as group:
        group.create_task(_promoted(api, namespace))
        group.create_task(_rolled_back(api, namespace))
        group.create_task(_reverted_on_deletion(api, namespace))
        group.create_task(_route_created_late(api, namespace))
