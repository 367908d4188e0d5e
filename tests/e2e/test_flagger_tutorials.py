"""Flagger's tutorials released as written (tests/fixtures/flagger_tutorials/: apiVersion changed,
nothing else): each tutorial's objects applied unchanged but for their namespace (`test`
becomes the test's), the target changed, and the release judged by the tutorial's own checks.

What stands in for the tutorial's cluster, and how, without editing a manifest:
- the target is examples/podinfo's Deployment (and examples/autoscaler's HPA, named `podinfo`,
  where the Canary has an `autoscalerRef` to one), as Flagger's kustomize would create them;
- the controller runs with `--provider` set to the `meshProvider` Flagger is installed with for
  that tutorial (several Canaries name no provider), and with `HTTP_PROXY` pointing at
  tests/integration/cluster_services.py: the tutorials' webhooks (`http://flagger-loadtester.test/`)
  reach a double of Flagger's load tester there, and a MetricTemplate's in-cluster Prometheus
  `address:` (`http://prometheus.linkerd-viz:9090`) reaches the sandbox's Prometheus;
- traffic and its series come from the mesh simulator, as in test_provider_*.

There is no knob to shorten a tutorial's `interval` (10 s to 1 m), so three tutorials are
released to the end (NGINX and Gloo step by step every 10 s; Linkerd every 30 s through its two
MetricTemplates); the others are taken to their first step and then to a tick judged, and
passed, by every one of their checks, their webhooks called. Skipper (an Ingress of an API
removed in Kubernetes 1.22), Gateway API (Envoy series the simulator does not produce for
HTTPRoutes) and Knative are admitted and checked only (tests/integration/test_flagger_tutorials.py).
docs/flagger.md ("Flagger's tutorials, as written") has the table.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.errors import NotFound
from canary.kube.resources import DEPLOYMENT, TRAFFIC_ROUTE
from canary.sandbox.meshsim_objects import RATE_ANNOTATION
from canary.sandbox.state import SandboxState
from tests.e2e.harness import (
    IMAGE,
    REPOSITORY,
    Controllers,
    Recorder,
    apply,
    get_canary,
    get_deployment,
    image_of,
    set_template,
)
from tests.integration.cluster_services import ClusterServices, cluster_services
from tests.integration.flagger_tutorials import TUTORIALS, nginx_ab_testing

NAME: Final = "podinfo"
# Objects of a tutorial whose API the sandbox does not serve, and why: left out, and shown to be
# refused (404) so that this list stays true.
NOT_SERVED: Final = {
    ("gateway.solo.io/v1", "VirtualService"): "Gloo Edge's CRDs are not in the sandbox; the "
    "controller writes the RouteTable the VirtualService delegates to, and never reads it",
    ("traefik.containo.us/v1alpha1", "IngressRoute"): "Traefik v3 serves traefik.io/v1alpha1; "
    "the controller writes the TraefikService and never reads the IngressRoute",
}


@dataclass(frozen=True)
class Release:
    tutorial: str
    hooks: frozenset[str]  # webhook types the tutorial's Canary has, called by then
    within: float  # seconds
    to_the_end: bool  # released to Succeeded; else to its first judged analysis step

    @property
    def provider(self) -> str:
        return TUTORIALS.get(self.tutorial, TUTORIALS["nginx-progressive-delivery"]).mesh_provider


PRE_AND_LOAD = frozenset({"pre-rollout", "rollout"})
RELEASES: Final = {
    r.tutorial: r
    for r in (
        Release("nginx-progressive-delivery", PRE_AND_LOAD, 400, to_the_end=True),
        Release("gloo-progressive-delivery", PRE_AND_LOAD, 400, to_the_end=True),
        Release("linkerd-progressive-delivery", PRE_AND_LOAD, 900, to_the_end=True),
        Release("contour-progressive-delivery", PRE_AND_LOAD, 240, to_the_end=False),
        Release("traefik-progressive-delivery", PRE_AND_LOAD, 180, to_the_end=False),
        Release("kuma-progressive-delivery", PRE_AND_LOAD, 600, to_the_end=True),
        Release("apisix-progressive-delivery", frozenset({"rollout"}), 180, to_the_end=False),
        Release("istio-progressive-delivery", PRE_AND_LOAD, 360, to_the_end=False),
        Release("istio-ab-testing", frozenset({"rollout"}), 360, to_the_end=False),
        Release("nginx-ab-testing", frozenset({"rollout"}), 360, to_the_end=False),
        Release("kubernetes-blue-green", PRE_AND_LOAD, 240, to_the_end=False),
        Release("keda-scaledobject", frozenset({"rollout"}), 180, to_the_end=False),
    )
}


@pytest.fixture
async def services(
    sandbox: SandboxState, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ClusterServices]:
    """The cluster's Service names, as the controller started after this will reach them."""
    async with cluster_services(sandbox.prometheus_url) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield proxy


def _documents(release: Release, namespace: str) -> list[dict[str, Any]]:
    if release.tutorial == "nginx-ab-testing":
        tutorial = TUTORIALS["nginx-progressive-delivery"]
        others = [d for d in tutorial.documents(namespace) if d["kind"] != "Canary"]
        return [*others, nginx_ab_testing(namespace)]
    return TUTORIALS[release.tutorial].documents(namespace)


def _target(release: Release, canary: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """examples/podinfo's Deployment and, for an autoscalerRef to an HPA, examples/autoscaler's
    HPA, named as the tutorial names them (both are `podinfo` in every tutorial). Blue/green
    (provider kubernetes) routes nothing to the canary before promotion: its requests come from
    the tutorial's load test against `podinfo-canary`, which the mesh simulator plays as
    requests of the Deployment itself (as test_routing.py does)."""
    path = REPOSITORY / "examples/podinfo/deployment.yaml"
    documents: list[dict[str, Any]] = list(yaml.safe_load_all(path.read_text()))
    if release.provider == "kubernetes":
        documents[0]["metadata"]["annotations"] = {RATE_ANNOTATION: "20"}
    ref = canary["spec"].get("autoscalerRef") or {}
    if ref.get("kind") == "HorizontalPodAutoscaler":
        hpa = yaml.safe_load((REPOSITORY / "examples/autoscaler/hpa.yaml").read_text())
        hpa["metadata"]["name"] = ref["name"]
        documents.append(hpa)
    for document in documents:
        document["metadata"]["namespace"] = namespace
    return documents


async def _apply_tutorial(api: ApiClient, documents: list[dict[str, Any]], namespace: str) -> None:
    """The tutorial's objects of the test's namespace, in its order; one whose API the sandbox
    does not serve is refused with 404, as NOT_SERVED says. Objects of other namespaces (the
    Istio tutorials' Gateway in istio-system) are left out: the controller never reads them."""
    for document in documents:
        if document["metadata"].get("namespace") != namespace:
            continue
        if (document["apiVersion"], document["kind"]) in NOT_SERVED:
            with pytest.raises(NotFound):
                await apply(api, document)
            continue
        await apply(api, document)


def _checks(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in status.get("checks") or []}


def _judged(canary: dict[str, Any], metrics: set[str]) -> bool:
    """Whether the run is past its first step and a tick of it was judged by every one of the
    tutorial's `metrics`, all passing (Flagger judges no tick before the first step: nothing
    reached the canary yet)."""
    status = canary.get("status") or {}
    checks = _checks(status)
    stepped = int(status.get("canaryWeight") or 0) > 0 or int(status.get("iterations") or 0) > 0
    return (
        status.get("phase") == "Progressing"
        and stepped
        and metrics <= set(checks)
        and all(check.get("verdict") == "Pass" for check in checks.values())
    )


async def _remove_kuma_route(api: ApiClient, controllers: Controllers) -> None:
    """Kuma's TrafficRoute is cluster-scoped, named after the apex (`podinfo`): stop the
    controller (so it writes none again) and delete it, as test_provider_kuma.py does, or the
    next Canary `podinfo` would find it held by this test's."""
    for controller in controllers.started:
        await controller.stop()
    await resources.delete(api, TRAFFIC_ROUTE, NAME, namespace=None)


# Kuma's TrafficRoute is cluster-scoped and named after the apex (`podinfo`), as is
# test_provider_kuma.py's: run alone, so that neither finds the other's route in its way.
SERIAL: Final = frozenset({"kuma-progressive-delivery"})


@pytest.mark.parametrize(
    "tutorial",
    [pytest.param(t, marks=pytest.mark.serial) if t in SERIAL else t for t in RELEASES],
)
async def test_a_flagger_tutorial_is_released_as_written(
    api: ApiClient,
    namespace: str,
    controllers: Controllers,
    services: ClusterServices,
    tutorial: str,
) -> None:
    release = RELEASES[tutorial]
    documents = _documents(release, namespace)
    await controllers.start(extra=[f"--provider={release.provider}"])
    try:
        await _release(api, namespace, release, documents, services)
    finally:
        if release.provider == "kuma":
            await _remove_kuma_route(api, controllers)


async def _release(
    api: ApiClient,
    namespace: str,
    release: Release,
    documents: list[dict[str, Any]],
    services: ClusterServices,
) -> None:
    [canary] = [d for d in documents if d["kind"] == "Canary"]
    analysis = canary["spec"]["analysis"]
    metrics = {m["name"] for m in analysis.get("metrics") or []}
    recorder = Recorder(
        api, namespace=namespace, name=NAME, route=DEPLOYMENT, weights_of=lambda _o, _n: None
    )
    async with recorder.running():
        for document in _target(release, canary, namespace):
            await apply(api, document)
        await _apply_tutorial(api, documents, namespace)
        await recorder.until_phase("Initialized", within=60)

        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        if release.to_the_end:
            outcome = await recorder.outcome(since=released, within=release.within)
            assert outcome.phase == "Succeeded", recorder.describe()
        else:
            await recorder.wait(
                lambda: any(_judged(c, metrics) for c in recorder.canaries),
                within=release.within,
                what="the first step, then a tick judged by every check, passing",
            )

    status = (await get_canary(api, NAME, namespace=namespace))["status"]
    assert release.hooks <= services.hook_types(), (services.calls, status)
    assert services.refused == [], "every in-cluster name the tutorial uses has a stand-in"
    if not release.to_the_end:
        return
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"
    if "stepWeight" in analysis:  # weighted; an A/B run steps by iterations
        weights = sorted({view.weight for view in recorder.statuses.values} - {0})
        step, top = analysis["stepWeight"], analysis["maxWeight"]
        assert weights == list(range(step, top + 1, step)), recorder.describe()
    checks = _checks(status)
    assert metrics <= set(checks), checks
    for name, check in checks.items():
        assert check["verdict"] == "Pass", (name, check)
        if name in metrics:
            assert check["value"] is not None, (name, check)
