"""The controller's routing flags (Flagger's `-ingress-annotations-prefix` and `-ingress-class`)
reach the route objects: reconcile cycles in process, against the sandbox's API server, with
the settings `canary run --ingress-annotations-prefix ... --ingress-class ...` gives."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient

from canary.api.crd import all_crds
from canary.controller.reconcile import Reconciler
from canary.controller.settings import Settings, add_arguments, from_arguments
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.resources import HTTP_PROXY, INGRESS, resource_kind
from canary.sandbox.state import SandboxState
from tests.integration.controller_settings import sandbox_settings
from tests.integration.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CANARIES = resource_kind("canary.dev/v1alpha1", "Canary")
PREFIX = "custom.nginx.example.com"


def _settings(sandbox: SandboxState, *argv: str) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    flags = from_arguments(parser.parse_args(list(argv)))
    return dataclasses.replace(sandbox_settings(sandbox), routing=flags.routing)


async def _apply(api: ApiClient, path: str, namespace: str, kind: str) -> None:
    documents = yaml.safe_load_all((EXAMPLES / path).read_text())
    manifest: dict[str, Any] = next(d for d in documents if d and d.get("kind") == kind)
    manifest["metadata"]["namespace"] = namespace
    await resources.apply(api, manifest)


async def _initialize(api: ApiClient, namespace: str, settings: Settings) -> None:
    reconciler = Reconciler(api, settings)

    async def cycle() -> str:
        await reconciler.cycle((namespace, "podinfo"))
        stored = await resources.get(api, CANARIES, "podinfo", namespace=namespace)
        return str(((stored or {}).get("status") or {}).get("phase"))

    try:
        await eventually(cycle, until=lambda phase: phase == "Initialized", what="Initialized")
    finally:
        reconciler.prometheus.close()


async def test_the_nginx_canary_ingress_carries_the_annotations_prefix_of_the_flag(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    await install_crds(api, all_crds().values())
    await _apply(api, "podinfo/deployment.yaml", namespace, "Deployment")
    await _apply(api, "nginx/ingress.yaml", namespace, "Ingress")
    await _apply(api, "nginx/canary.yaml", namespace, "Canary")
    settings = _settings(sandbox, f"--ingress-annotations-prefix={PREFIX}")
    await _initialize(api, namespace, settings)
    written = await resources.get(api, INGRESS, "podinfo-canary", namespace=namespace)
    assert written is not None
    annotations = written["metadata"]["annotations"]
    assert annotations[f"{PREFIX}/canary"] == "false"  # no release under way
    assert not [key for key in annotations if key.startswith("nginx.ingress.kubernetes.io/")]


async def test_the_contour_http_proxy_carries_the_ingress_class_of_the_flag(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    await install_crds(api, all_crds().values())
    await _apply(api, "podinfo/deployment.yaml", namespace, "Deployment")
    await _apply(api, "contour/httpproxy.yaml", namespace, "HTTPProxy")
    await _apply(api, "contour/canary.yaml", namespace, "Canary")
    await _initialize(api, namespace, _settings(sandbox, "--ingress-class=contour-internal"))
    proxy = await resources.get(api, HTTP_PROXY, "podinfo", namespace=namespace)
    assert proxy is not None
    # Kept by Contour's CRD (an unknown field would have been pruned).
    assert proxy["spec"]["ingressClassName"] == "contour-internal"
    assert proxy["metadata"]["annotations"]["projectcontour.io/ingress.class"] == (
        "contour-internal"
    )
