"""What the controller asks of the `apisix` router, from examples/apisix: `{{ route }}` for the
builtin queries is `spec.routeRef.name`, the router reads the routeRef, and what it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.api.canary import Canary
from canary.controller.convert import context_of
from canary.controller.routing import route_settings, router_of
from canary.controller.support import fields_honored, unsupported_fields
from canary.core.conditions import ConditionType
from canary.routers.apisix import ApisixRouter

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _example(**analysis: Any) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / "apisix/canary.yaml").read_text())
    manifest["metadata"].update(namespace="shop", uid="u-1")
    manifest["spec"]["analysis"].update(analysis)
    return manifest


def test_route_and_ingress_names_come_from_the_refs_else_the_target() -> None:
    manifest = _example()
    manifest["spec"]["routeRef"]["name"] = "web"
    context = context_of(Canary.model_validate(manifest), default_provider="linkerd")
    assert (context.route_name, context.ingress_name) == ("web", "podinfo")
    manifest["spec"]["ingressRef"] = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress"}
    manifest["spec"]["ingressRef"]["name"] = "public"
    context = context_of(Canary.model_validate(manifest), default_provider="linkerd")
    assert context.ingress_name == "public"
    del manifest["spec"]["routeRef"], manifest["spec"]["ingressRef"]
    context = context_of(Canary.model_validate(manifest), default_provider="linkerd")
    assert (context.route_name, context.ingress_name) == ("podinfo", "podinfo")


async def test_the_router_is_built_from_the_route_ref() -> None:
    canary = Canary.model_validate(_example())
    assert unsupported_fields(canary, default_provider="linkerd") == []
    assert route_settings(canary, "apisix").object_ref("spec.routeRef") is not None
    async with ApiClient(Configuration()) as api:

        async def nothing(*_: Any) -> None:
            return None

        router = router_of(canary, api, read=nothing, default_provider="linkerd")
        assert isinstance(router, ApisixRouter)
        assert router.route_ref == "podinfo"


async def test_a_canary_without_route_ref_cannot_be_routed_naming_the_field() -> None:
    manifest = _example()
    del manifest["spec"]["routeRef"]
    canary = Canary.model_validate(manifest)
    async with ApiClient(Configuration()) as api:

        async def nothing(*_: Any) -> None:
            return None

        with pytest.raises(ValueError, match=r"spec\.routeRef is required with provider apisix"):
            router_of(canary, api, read=nothing, default_provider="linkerd")


def test_mirroring_and_ab_testing_are_refused_naming_the_field_and_provider() -> None:
    mirrored = _example(iterations=5, mirror=True, stepWeight=None, maxWeight=None)
    [found] = unsupported_fields(Canary.model_validate(mirrored), default_provider="linkerd")
    assert found.startswith("spec.analysis.mirror with provider apisix")
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    ab = _example(iterations=5, match=match, stepWeight=None, maxWeight=None)
    [found] = unsupported_fields(Canary.model_validate(ab), default_provider="linkerd")
    assert found.startswith("spec.analysis.match with provider apisix")


def test_the_route_ref_is_honoured_not_reported_as_ignored() -> None:
    canary = Canary.model_validate(_example())
    assert fields_honored(canary, default_provider="linkerd") == {
        ConditionType.FIELDS_HONORED: None
    }
