"""Flagger's manifests at admission: what Flagger accepts is admitted (its older `threshold`, a
webhook timeout as long as the interval, the Services' metadata, portDiscovery, the builtin
metrics with every provider), a field of another provider admitted and warned of where Flagger
ignores it too, and refused, naming it, where Flagger applies it with the Canary's provider; a
provider this controller does not implement is refused naming it. `canary check` gives the same
verdict, with the same message, as the sandbox's real API server.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException

from canary.api.base import GROUP, VERSION
from canary.api.foreign import PROVIDERS as ADMITTED_PROVIDERS
from canary.cli.check.command import check_document
from tests.integration.crds import install_crds

pytestmark = pytest.mark.integration

# Flagger's Linkerd tutorial's Canary (docs/gitbook/tutorials/linkerd-progressive-delivery.md),
# apiVersion changed: interval 30s and a load-test webhook timeout of 30s, `threshold` bounds.
LINKERD_TUTORIAL: dict[str, Any] = {
    "apiVersion": "canary.dev/v1alpha1",
    "kind": "Canary",
    "metadata": {"name": "podinfo"},
    "spec": {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "autoscalerRef": {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "name": "podinfo",
        },
        "progressDeadlineSeconds": 60,
        "service": {
            "port": 9898,
            "portDiscovery": True,
            "apex": {"annotations": {"test": "annotation"}, "labels": {"test": "label"}},
            "primary": {"labels": {"role": "primary"}},
            "canary": {"annotations": {"role": "canary"}},
        },
        "analysis": {
            "interval": "30s",
            "threshold": 5,
            "maxWeight": 50,
            "stepWeight": 5,
            "metrics": [
                {"name": "request-success-rate", "threshold": 99, "interval": "1m"},
                {"name": "request-duration", "threshold": 500, "interval": "30s"},
            ],
            "webhooks": [
                {
                    "name": "acceptance-test",
                    "type": "pre-rollout",
                    "url": "http://flagger-loadtester.test/",
                    "timeout": "30s",
                    "metadata": {"type": "bash", "cmd": "curl -sd 'test' http://podinfo:9898"},
                },
                {
                    "name": "load-test",
                    "url": "http://flagger-loadtester.test/",
                    "timeout": "5s",
                    "metadata": {
                        "cmd": "hey -z 2m -q 10 -c 2 -host app.example.com"
                        " -H 'X-Canary: insider' -m POST -d 'hi' http://podinfo-canary:9898/"
                    },
                },
            ],
        },
    },
}


def _variant(**spec: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(LINKERD_TUTORIAL)
    manifest["spec"].update(spec)
    return manifest


def _with(where: str, field: str, value: Any) -> dict[str, Any]:
    manifest = copy.deepcopy(LINKERD_TUTORIAL)
    parent = manifest["spec"] if where == "spec" else manifest["spec"][where]
    parent[field] = value
    return manifest


ADMITTED = {
    "linkerd-tutorial": LINKERD_TUTORIAL,
    "blue-green-kubernetes": _variant(
        provider="kubernetes",
        analysis={**LINKERD_TUTORIAL["spec"]["analysis"], "iterations": 10}
        | {"maxWeight": None, "stepWeight": None},
    ),
    "gateway-api": _variant(
        provider="gatewayapi:v1",
        service={**LINKERD_TUTORIAL["spec"]["service"], "gatewayRefs": [{"name": "gw"}]},
    ),
    # Flagger's KEDA ScaledObject tutorial (docs/gitbook/tutorials/keda-scaledobject.md): its
    # autoscalerRef, with a query for the primary's copy of the trigger `prom-trigger`.
    "keda-scaled-object": _variant(
        provider="kubernetes",
        analysis={**LINKERD_TUTORIAL["spec"]["analysis"], "iterations": 10}
        | {"maxWeight": None, "stepWeight": None},
        autoscalerRef={
            "apiVersion": "keda.sh/v1alpha1",
            "kind": "ScaledObject",
            "name": "podinfo-so",
            "primaryScalerQueries": {
                "prom-trigger": 'sum(rate(http_requests_total{ app="podinfo-primary" }[30s]))'
            },
        },
    ),
}
for _manifest in ADMITTED.values():  # None stands for "left out" above
    _manifest["spec"]["analysis"] = {
        k: v for k, v in _manifest["spec"]["analysis"].items() if v is not None
    }


def _on(provider: str, manifest: dict[str, Any]) -> dict[str, Any]:
    manifest["spec"]["provider"] = provider
    if provider.startswith("gatewayapi:"):
        manifest["spec"]["service"]["gatewayRefs"] = [{"name": "gw"}]
    if provider == "kubernetes":  # blue/green
        analysis = manifest["spec"]["analysis"]
        del analysis["maxWeight"], analysis["stepWeight"]
        analysis["iterations"] = 10
    return manifest


SUPPORTED = ", ".join(ADMITTED_PROVIDERS)  # as the provider rule lists them
ISTIO_TRAFFIC_POLICY = {"tls": {"mode": "ISTIO_MUTUAL"}}
# Fields Flagger ignores with the Canary's provider: admitted as written, and warned of.
IGNORED = {
    "istio-traffic-policy-with-linkerd": (
        _with("service", "trafficPolicy", ISTIO_TRAFFIC_POLICY),
        "spec.service.trafficPolicy is an Istio setting, ignored with provider linkerd",
    ),
    "istio-gateways-with-gateway-api": (
        _on(
            "gatewayapi:v1",
            _with("service", "gateways", ["public-gateway.istio-system.svc.cluster.local"]),
        ),
        "spec.service.gateways is an Istio setting, ignored with provider gatewayapi:v1",
    ),
    "nginx-ingress-ref-with-kubernetes": (
        _on(
            "kubernetes",
            _with("spec", "ingressRef", {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}),
        ),
        "spec.ingressRef is an NGINX and Skipper setting, ignored with provider kubernetes",
    ),
    "app-mesh-backends-with-smi": (
        _on("smi:v1alpha4", _with("service", "backends", ["backend1"])),
        "spec.service.backends is an App Mesh setting, ignored with provider smi:v1alpha4",
    ),
    "gateway-api-rewrite-with-linkerd": (
        _on("linkerd", _with("service", "rewrite", {"uri": "/"})),
        "spec.service.rewrite is an Istio and Gateway API setting, ignored with provider linkerd",
    ),
}
# A provider this controller does not implement, or a field Flagger applies with the Canary's
# provider and this controller cannot: refused, naming it.
REFUSED = {
    "istio-provider": (
        _on("istio", _with("service", "trafficPolicy", ISTIO_TRAFFIC_POLICY)),
        "spec.provider",
        f'"istio": provider istio is not supported yet; supported providers: {SUPPORTED}',
    ),
    "nginx-provider": (
        _on("nginx", _with("spec", "ingressRef", {"kind": "Ingress", "name": "podinfo"})),
        "spec.provider",
        f'"nginx": provider nginx is not supported yet; supported providers: {SUPPORTED}',
    ),
    "gateway-api-rewrite-with-gateway-api": (
        _on("gatewayapi:v1", _with("service", "rewrite", {"uri": "/"})),
        "spec",
        (
            "service.rewrite is an Istio and Gateway API setting this controller does not "
            "support yet: Flagger applies it with provider gatewayapi:*, so such a Canary is "
            "refused rather than routed without it (other providers ignore it)"
        ),
    ),
    "headless-with-any-provider": (
        _with("service", "headless", value=True),
        "spec.service",
        "service.headless is a Flagger setting this controller does not support yet",
    ),
}


async def _create(api: ApiClient, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
    created: dict[str, Any] = await CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "canaries", manifest, field_validation="Strict"
    )
    return created


def _check(manifest: dict[str, Any]) -> list[str]:
    return [p.text for p in check_document(manifest, number=1, provider="linkerd").problems]


@pytest.mark.parametrize("name", list(ADMITTED))
async def test_flaggers_manifests_are_admitted_and_checked_ok(
    api: ApiClient, namespace: str, name: str
) -> None:
    await install_crds(api)
    manifest = ADMITTED[name]
    stored = await _create(api, namespace, manifest)
    assert stored["spec"] == manifest["spec"], "nothing pruned"
    assert _check(manifest) == []


@pytest.mark.parametrize("name", list(IGNORED))
async def test_other_providers_fields_are_admitted_and_warned_of(
    api: ApiClient, namespace: str, name: str
) -> None:
    await install_crds(api)
    manifest, warning = IGNORED[name]
    stored = await _create(api, namespace, manifest)
    assert stored["spec"] == manifest["spec"], "kept as written"
    result = check_document(manifest, number=1, provider="linkerd")
    assert result.problems == ()
    assert len(result.warnings) == 1
    assert warning in result.warnings[0]


@pytest.mark.parametrize("name", list(REFUSED))
async def test_unimplemented_providers_and_applied_fields_are_refused_naming_them_by_both(
    api: ApiClient, namespace: str, name: str
) -> None:
    await install_crds(api)
    manifest, field, message = REFUSED[name]
    with pytest.raises(ApiException) as refused:
        await _create(api, namespace, manifest)
    assert refused.value.status == 422
    causes = json.loads(refused.value.body or "{}")["details"]["causes"]
    assert [(c["field"], c["message"]) for c in causes] == [(field, f"Invalid value: {message}")]
    assert _check(manifest) == [f"{field}: Invalid value: {message}"]
