"""The Skipper router's canary Ingress: the user's paths to the primary and the canary, weighed
by `zalando.org/backend-weights`, turned on and off by `zalando.org/skipper-predicate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.api.canary import Canary
from canary.controller.support import unsupported_fields
from canary.kube.resources import CanaryRef
from canary.routers.base import GITOPS_OPT_OUT, RouteError, RouteRef
from canary.routers.registry import router_for, router_kind
from canary.routers.settings import RouteSettings
from canary.routers.skipper import (
    PREDICATE,
    WEIGHTS,
    SkipperRouter,
    canary_ingress,
    ingress_weights,
    with_predicate,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "skipper"
OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)


def _main(**annotations: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / "ingress.yaml").read_text())
    manifest["metadata"].update(namespace="test", annotations=annotations)
    return manifest


def _services(ingress: dict[str, Any]) -> list[str]:
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    return [path["backend"]["service"]["name"] for path in paths]


def test_the_canary_ingress_sends_the_apex_paths_to_primary_and_canary() -> None:
    main = _main(**{PREDICATE: 'Method("GET")', "team": "a"})
    built = canary_ingress(main, ROUTE, primary=70, canary=30)
    assert built["metadata"]["name"] == "podinfo-canary"
    assert built["metadata"]["ownerReferences"] == [OWNER.owner_reference()]
    assert _services(built) == ["podinfo-primary", "podinfo-canary"]
    assert _services(main) == ["podinfo"]
    assert built["metadata"]["annotations"] == {
        "team": "a",
        **GITOPS_OPT_OUT,
        WEIGHTS: '{"podinfo-canary":30,"podinfo-primary":70}',
        PREDICATE: 'Weight(100) && Method("GET")',
    }


def test_at_weight_0_the_canary_routes_are_off() -> None:
    built = canary_ingress(_main(), ROUTE, primary=100, canary=0)
    annotations = built["metadata"]["annotations"]
    assert annotations[PREDICATE] == "False()"
    assert json.loads(annotations[WEIGHTS]) == {"podinfo-primary": 100, "podinfo-canary": 0}


@pytest.mark.parametrize(
    ("raw", "first", "expected"),
    [
        ("", "Weight(100)", "Weight(100)"),
        ('False() && Path("/")', "Weight(100)", 'Weight(100) && Path("/")'),
        ("Weight(100) && Host(/a/)", "False()", "False() && Host(/a/)"),
    ],
)
def test_with_predicate(raw: str, first: str, expected: str) -> None:
    assert with_predicate(raw, first) == expected


def test_an_ingress_without_the_apex_backend_is_refused_naming_it() -> None:
    with pytest.raises(RouteError, match=r"\(spec.ingressRef\) has no path"):
        canary_ingress(_main(), RouteRef("test", "web", OWNER), primary=100, canary=0)


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ('{"podinfo-primary":70,"podinfo-canary":30}', (70, 30)),
        ('{"podinfo-primary":1,"podinfo-canary":1}', (50, 50)),
        ('{"podinfo-primary":100,"podinfo-canary":0}', (100, 0)),
    ],
)
def test_ingress_weights(weights: str, expected: tuple[int, int]) -> None:
    obj = {"metadata": {"name": "podinfo-canary", "annotations": {WEIGHTS: weights}}}
    assert ingress_weights(obj, ROUTE) == expected


@pytest.mark.parametrize(
    "weights", [None, "nope", '{"podinfo-primary":100}', '{"podinfo-primary":0,"podinfo-canary":0}']
)
def test_weights_that_do_not_weigh_both_services_are_malformed(weights: str | None) -> None:
    annotations = {} if weights is None else {WEIGHTS: weights}
    with pytest.raises(RouteError, match="podinfo-canary"):
        ingress_weights({"metadata": {"name": "podinfo-canary", "annotations": annotations}}, ROUTE)


async def test_router_for_builds_the_skipper_router_and_needs_an_ingress_ref() -> None:
    fields = {"spec.ingressRef": {"kind": "Ingress", "name": "web"}}
    async with ApiClient(Configuration()) as api:
        router = router_for("skipper", api, RouteSettings(provider="skipper", fields=fields))
        assert isinstance(router, SkipperRouter)
        assert router.name == "web-canary"
        with pytest.raises(ValueError, match=r"spec\.ingressRef is required with provider skipper"):
            router_for("skipper", api, RouteSettings(provider="skipper"))
    kind = router_kind("skipper")
    assert kind.route is None
    assert kind.applies == frozenset({"spec.ingressRef"})
    assert not kind.can_match
    assert not kind.can_mirror
    assert not kind.sticky


def test_ab_testing_is_refused_with_skipper() -> None:
    manifest = yaml.safe_load((EXAMPLES / "canary.yaml").read_text())
    manifest["metadata"]["namespace"] = "test"
    assert unsupported_fields(Canary.model_validate(manifest), default_provider="linkerd") == []
    analysis = manifest["spec"]["analysis"]
    del analysis["maxWeight"], analysis["stepWeight"]
    analysis.update(iterations=5, match=[{"headers": {"x-canary": {"exact": "insider"}}}])
    found = unsupported_fields(Canary.model_validate(manifest), default_provider="linkerd")
    assert len(found) == 1
    assert found[0].startswith("spec.analysis.match with provider skipper"), found
