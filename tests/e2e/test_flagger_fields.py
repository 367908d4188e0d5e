"""Flagger's Canary fields, as Flagger's tutorials and e2e scenarios write them, on every
provider the project routes, released end to end on the sandbox.

One Canary per provider (`kubernetes`, `gatewayapi:v1` and `:v1beta1`, `linkerd`, `smi:v1alpha1`
to `smi:v1alpha4`) with: metrics bounded by Flagger's older `threshold`, labels and annotations
for the apex, primary and canary Services (`service.apex`, `.primary`, `.canary`),
`service.portDiscovery`, and a load-test webhook whose timeout is longer than the analysis
interval (refused before) and whose `hey` command passes `-host` (answered 400 before), `-H`,
`-m` and `-d`. The project's load tester runs it against a local target that records what it
receives. The controller copies the target's labels to the primary by prefix
(`--include-label-prefix`, Flagger's `-include-label-prefix`). Each Canary also sets Istio's
`service.trafficPolicy`, which Flagger ignores with these providers: admitted, released, and
shown as a warning (`FieldsHonored=False`, one `IgnoredFields` event).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import HTTP_ROUTE, SERVICE, TRAFFIC_SPLIT
from tests.e2e.harness import (
    IMAGE,
    RATE_ANNOTATION,
    Controllers,
    Recorder,
    apex_weights_of,
    apply,
    deployment,
    events_of,
    get_canary,
    get_deployment,
    http_route_weights_of,
    image_of,
    set_template,
)
from tests.e2e.loadtest import Received
from tests.integration.waiting import eventually

NAME = "podinfo"
HOST = "app.example.com"


def _flagger_style_canary(
    provider: str, namespace: str, *, loadtester: str, target: str
) -> dict[str, Any]:
    """A Canary as Flagger's docs write one, for `provider`."""
    analysis: dict[str, Any] = {
        "interval": "2s",
        "threshold": 3,
        "metrics": [
            {"name": "request-success-rate", "threshold": 99, "interval": "10s"},
            {"name": "request-duration", "threshold": 500, "interval": "10s"},
        ],
        "webhooks": [
            {
                "name": "load-test",
                "url": f"{loadtester}/",
                "timeout": "15s",  # longer than the interval, as Flagger's tutorials have it
                "metadata": {
                    "cmd": f"hey -z 2s -q 5 -c 1 -host {HOST} -H 'X-Canary: insider'"
                    f" -m POST -d 'hello' {target}"
                },
            }
        ],
    }
    if provider == "kubernetes":
        analysis["iterations"] = 3
    else:
        analysis.update(maxWeight=40, stepWeight=20)
    service: dict[str, Any] = {
        "port": 9898,
        "targetPort": 9898,
        "portDiscovery": True,
        "apex": {"labels": {"team": "web"}, "annotations": {"note": "apex"}},
        "primary": {"labels": {"role": "primary"}, "annotations": {"note": "primary"}},
        "canary": {"labels": {"role": "canary"}, "annotations": {"note": "canary"}},
        "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},  # Istio's: ignored, as by Flagger
    }
    if provider.startswith("gatewayapi"):
        service.update(hosts=[HOST], gatewayRefs=[{"name": "gateway", "namespace": "gateways"}])
    return {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Canary",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "provider": provider,
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "progressDeadlineSeconds": 60,
            "service": service,
            "analysis": analysis,
        },
    }


def _target(namespace: str) -> dict[str, Any]:
    """podinfo with its metrics port (found by portDiscovery) and labels of several prefixes."""
    target = deployment(NAME, namespace=namespace)
    target["metadata"]["labels"] |= {"app.kubernetes.io/name": NAME, "team": "web", "x": "y"}
    target["metadata"]["annotations"] = {RATE_ANNOTATION: "50"}  # blue/green's own traffic
    container = target["spec"]["template"]["spec"]["containers"][0]
    container["ports"].append({"name": "http-metrics", "containerPort": 9797, "protocol": "TCP"})
    return target


def _recorder(api: ApiClient, namespace: str, provider: str) -> Recorder:
    if provider == "kubernetes":
        return Recorder(
            api, namespace=namespace, name=NAME, route=SERVICE, weights_of=apex_weights_of
        )
    if provider.startswith("gatewayapi"):
        return Recorder(
            api, namespace=namespace, name=NAME, route=HTTP_ROUTE, weights_of=http_route_weights_of
        )
    return Recorder(api, namespace=namespace, name=NAME, route=TRAFFIC_SPLIT)


async def _assert_services(api: ApiClient, namespace: str) -> None:
    """Each Service has its own labels and annotations, and the discovered metrics port."""
    expected = {
        NAME: ({"team": "web"}, {"note": "apex"}),
        f"{NAME}-primary": ({"role": "primary"}, {"note": "primary"}),
        f"{NAME}-canary": ({"role": "canary"}, {"note": "canary"}),
    }
    for name, (labels, notes) in expected.items():
        found = await resources.get(api, SERVICE, name, namespace=namespace)
        assert found is not None, name
        metadata = found["metadata"]
        assert labels.items() <= metadata["labels"].items(), (name, metadata)
        assert notes.items() <= metadata["annotations"].items(), (name, metadata)
        other_roles = {"role", "team", "note"} - labels.keys() - notes.keys()
        assert not other_roles & (metadata["labels"].keys() | metadata["annotations"].keys())
        ports = [(p["name"], p["port"], p["targetPort"]) for p in found["spec"]["ports"]]
        assert ports == [("http", 9898, 9898), ("http-metrics", 9797, 9797)], (name, ports)


PROVIDERS = [
    "kubernetes",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
    "linkerd",
    "smi:v1alpha1",
    "smi:v1alpha2",
    "smi:v1alpha3",
    "smi:v1alpha4",
]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_flagger_style_canary_is_released_with_all_its_fields(
    *,
    api: ApiClient,
    namespace: str,
    controllers: Controllers,
    loadtester: str,
    load_target: Received,
    provider: str,
) -> None:
    await controllers.start(extra=["--include-label-prefix=app.kubernetes.io,team"])
    manifest = _flagger_style_canary(
        provider, namespace, loadtester=loadtester, target=load_target.url
    )
    recorder = _recorder(api, namespace, provider)
    async with recorder.running():
        await apply(api, _target(namespace))
        await apply(api, manifest)
        await recorder.until_phase("Initialized", within=30)
        await _assert_services(api, namespace)
        if provider.startswith("gatewayapi"):  # Flagger puts service.apex on the HTTPRoute too
            http_route = await resources.get(api, HTTP_ROUTE, NAME, namespace=namespace)
            assert http_route is not None
            assert http_route["metadata"]["labels"] == {"team": "web"}
            assert http_route["metadata"]["annotations"]["note"] == "apex"
        primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
        labels = primary["metadata"]["labels"]
        assert labels == {"app": f"{NAME}-primary", "app.kubernetes.io/name": NAME, "team": "web"}
        released = time.monotonic()
        await set_template(api, NAME, namespace=namespace, tag="6.7.1")
        outcome = await recorder.outcome(since=released, within=120)
        status = (await get_canary(api, NAME, namespace=namespace)).get("status") or {}
        assert outcome.phase == "Succeeded", (status, recorder.describe())

    checks = {check["name"]: check for check in status.get("checks") or []}
    # `threshold`: a minimum for the success rate, a maximum for the duration.
    assert checks["request-success-rate"]["min"] == 99, checks
    assert checks["request-duration"]["max"] == 500, checks
    [honored] = [c for c in status["conditions"] if c["type"] == "FieldsHonored"]
    assert (honored["status"], honored["reason"]) == ("False", "IgnoredFields"), honored
    assert (
        f"spec.service.trafficPolicy is an Istio setting, ignored with provider {provider}"
        in honored["message"]
    )
    ignored = [
        e for e in await events_of(api, NAME, namespace=namespace) if e.reason == "IgnoredFields"
    ]
    assert [(e.type, e.message) for e in ignored] == [("Warning", honored["message"])]
    await _assert_primary_runs(api, namespace)
    await eventually(
        lambda: _finished(load_target), until=bool, within=10, what="the load test's requests"
    )
    assert {r[:3] for r in load_target.requests} == {("POST", HOST, "insider")}
    assert {r[3] for r in load_target.requests} == {b"hello"}


async def _finished(received: Received) -> bool:
    return len(received.requests) > 0


async def _assert_primary_runs(api: ApiClient, namespace: str) -> None:
    primary = await get_deployment(api, f"{NAME}-primary", namespace=namespace)
    assert image_of(primary) == f"{IMAGE}:6.7.1"
