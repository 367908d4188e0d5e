"""Providers contour and gloo in the controller: the settings their routers read, what they
refuse (mirroring, sticky sessions), and the Flagger fields they apply (not warned of) or
ignore (warned of)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from canary.api.canary import Canary
from canary.controller.routing import route_settings
from canary.controller.support import fields_honored, unsupported_fields
from canary.core.conditions import ConditionType
from canary.routers.contour import contour_settings

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _example(path: str, **service: Any) -> Canary:
    manifest = yaml.safe_load((EXAMPLES / path).read_text())
    manifest["metadata"].update(namespace="shop", uid="u-1", generation=2)
    manifest["spec"]["service"].update(service)
    return Canary.model_validate(manifest)


def test_the_contour_and_gloo_examples_ask_nothing_the_router_cannot_do() -> None:
    for path in (
        "contour/canary.yaml",
        "contour/canary-ab.yaml",
        "gloo/canary.yaml",
        "gloo/canary-ab.yaml",
    ):
        canary = _example(path)
        assert unsupported_fields(canary, default_provider="linkerd") == [], path
        assert fields_honored(canary, default_provider="linkerd") == {
            ConditionType.FIELDS_HONORED: None
        }, path


def test_the_example_reaches_the_router_with_its_retries() -> None:
    settings = contour_settings(route_settings(_example("contour/canary.yaml"), "contour"))
    assert settings.timeout == "15s"
    assert settings.retries is not None
    assert (settings.retries.attempts, settings.retries.per_try_timeout) == (3, "5s")


def test_mirroring_and_session_affinity_are_refused_naming_contour() -> None:
    canary = _example("contour/canary.yaml")
    canary.spec.analysis.mirror = True
    [found] = unsupported_fields(canary, default_provider="linkerd")
    assert found.startswith("spec.analysis.mirror with provider contour (")
    manifest = yaml.safe_load((EXAMPLES / "contour/canary.yaml").read_text())
    manifest["metadata"]["namespace"] = "shop"
    manifest["spec"]["analysis"]["sessionAffinity"] = {"cookieName": "flagger-cookie"}
    [found] = unsupported_fields(Canary.model_validate(manifest), default_provider="linkerd")
    assert found.startswith("spec.analysis.sessionAffinity with provider contour (")


def test_gloo_refuses_mirroring_and_ignores_contours_fields_with_a_warning() -> None:
    canary = _example("gloo/canary.yaml", retries={"attempts": 3})
    assert unsupported_fields(canary, default_provider="linkerd") == []
    condition = fields_honored(canary, default_provider="linkerd")[ConditionType.FIELDS_HONORED]
    assert condition is not None
    assert "spec.service.retries is an Istio setting, ignored with provider gloo" in (
        condition.message
    )
    canary.spec.analysis.mirror = True
    canary.spec.analysis.iterations = 3
    found = unsupported_fields(canary, default_provider="linkerd")
    assert any(f.startswith("spec.analysis.mirror with provider gloo (") for f in found), found


def test_istio_fields_are_ignored_with_a_warning_as_flagger_ignores_them() -> None:
    canary = _example("contour/canary.yaml", trafficPolicy={"tls": {"mode": "ISTIO_MUTUAL"}})
    assert unsupported_fields(canary, default_provider="linkerd") == []
    condition = fields_honored(canary, default_provider="linkerd")[ConditionType.FIELDS_HONORED]
    assert condition is not None
    assert "spec.service.trafficPolicy is an Istio setting, ignored with provider contour" in (
        condition.message
    )
