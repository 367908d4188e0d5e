"""A Canary's router settings, and what a router or strategy cannot do (refused, not ignored)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.api.canary import Canary
from canary.api.status import CanaryStatus
from canary.controller.manual import requests_of
from canary.controller.routing import route_settings
from canary.controller.support import fields_honored, ignored_warnings, unsupported_fields
from canary.core.conditions import ConditionStatus, ConditionType

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _example(path: str, **spec: Any) -> Canary:
    manifest = yaml.safe_load((EXAMPLES / path).read_text())
    manifest["metadata"].update(namespace="shop", uid="u-1")
    manifest["spec"].update(spec)
    return Canary.model_validate(manifest)


def test_route_settings_come_from_the_service_and_the_analysis() -> None:
    settings = route_settings(_example("gatewayapi/canary.yaml"), "gatewayapi:v1")
    assert settings.port == 9898
    assert settings.gateway_refs == (
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public"},
    )
    assert settings.hosts == ("podinfo.example.com",)
    assert settings.timeout == "30s"
    assert settings.matches == ()
    ab = route_settings(_example("ab-testing/canary.yaml"), "gatewayapi:v1")
    assert ab.gateway_refs == ()  # attached to the apex Service: mesh routing
    assert len(ab.matches) == 2


def test_provider_specific_fields_reach_the_router_as_written() -> None:
    canary = _with_foreign("linkerd")
    settings = route_settings(canary, "linkerd")
    assert settings.field_value("spec.service.trafficPolicy") == {"tls": {}}
    assert settings.field_value("spec.service.rewrite") == {"uri": "/"}
    assert settings.field_value("spec.service.gateways") is None


def test_the_examples_ask_nothing_their_routers_cannot_do() -> None:
    for path in ("gatewayapi/canary.yaml", "bluegreen/canary.yaml", "ab-testing/canary.yaml"):
        assert unsupported_fields(_example(path), default_provider="linkerd") == [], path


@pytest.mark.parametrize(
    ("provider", "refused"),
    [
        ("linkerd", "spec.analysis.match with provider linkerd"),
        ("smi:v1alpha2", "spec.analysis.match with provider smi:v1alpha2"),
        ("kubernetes", "spec.analysis.match with provider kubernetes"),
    ],
)
def test_matches_need_a_router_that_can_match(provider: str, refused: str) -> None:
    found = unsupported_fields(
        _example("ab-testing/canary.yaml", provider=provider), default_provider="linkerd"
    )
    assert any(refused in item for item in found), found


def test_smi_ab_tests_cannot_match_query_parameters() -> None:
    canary = _example("ab-testing/canary.yaml", provider="smi:v1alpha4")
    assert unsupported_fields(canary, default_provider="linkerd") == []
    canary.spec.analysis.match[0].query_params = canary.spec.analysis.match[0].headers
    [found] = unsupported_fields(canary, default_provider="linkerd")
    assert "queryParams with provider smi:v1alpha4" in found


@pytest.mark.parametrize("provider", ["gatewayapi:v1", "smi:v1alpha4", "nginx", "contour", "gloo"])
def test_only_istio_matches_the_calling_pods_labels(provider: str) -> None:
    canary = _example("ab-testing/canary.yaml", provider=provider)
    canary.spec.analysis.match[0].source_labels = {"app": "frontend"}
    found = unsupported_fields(canary, default_provider="linkerd")
    assert any(
        f"spec.analysis.match[].sourceLabels with provider {provider} (routing by the calling "
        "pods' labels needs one of istio;" in item
        for item in found
    ), found
    canary.spec.provider = "istio"
    assert unsupported_fields(canary, default_provider="linkerd") == []


def test_mirroring_needs_gateway_api_and_kubernetes_needs_iterations() -> None:
    mirrored = _example("bluegreen/canary.yaml")
    mirrored.spec.analysis.mirror = True
    [found] = unsupported_fields(mirrored, default_provider="linkerd")
    assert "spec.analysis.mirror with provider kubernetes" in found
    stepped = _example("podinfo/canary.yaml", provider="kubernetes")
    [found] = unsupported_fields(stepped, default_provider="linkerd")
    assert "set analysis.iterations for blue/green" in found


def test_a_retry_request_names_the_revision_and_the_failure() -> None:
    requests = requests_of({"canary.dev/retry": "abc123@2026-11-25T20:00:01Z"})
    assert requests.retry_revision == "abc123"
    assert requests.retry_failed_at == datetime(2026, 11, 25, 20, 0, 1, tzinfo=UTC)
    broken = requests_of({"canary.dev/retry": "abc123@yesterday"})
    assert broken.retry_failed_at is None


def _with_foreign(provider: str | None) -> Canary:
    manifest = yaml.safe_load((EXAMPLES / "podinfo/canary.yaml").read_text())
    manifest["metadata"].update(namespace="shop", uid="u-1", generation=3)
    manifest["spec"]["service"] |= {"trafficPolicy": {"tls": {}}, "rewrite": {"uri": "/"}}
    manifest["spec"]["provider"] = provider
    return Canary.model_validate(manifest)


def test_fields_the_provider_ignores_are_a_warning_condition_and_one_event() -> None:
    canary = _with_foreign("linkerd")
    assert unsupported_fields(canary, default_provider="linkerd") == []
    notes = fields_honored(canary, default_provider="linkerd")
    condition = notes[ConditionType.FIELDS_HONORED]
    assert condition is not None
    assert (condition.status, condition.reason, condition.observed_generation) == (
        ConditionStatus.FALSE,
        "IgnoredFields",
        3,
    )
    assert "spec.service.trafficPolicy is an Istio setting, ignored with provider linkerd" in (
        condition.message
    )
    assert "spec.service.rewrite is an Istio and Gateway API setting, ignored" in condition.message
    assert ignored_warnings(CanaryStatus(), notes) == [("IgnoredFields", condition.message)]
    shown = CanaryStatus.model_validate(
        {
            "conditions": [
                {
                    "type": "FieldsHonored",
                    "status": "False",
                    "reason": "IgnoredFields",
                    "message": condition.message,
                    "lastTransitionTime": "2026-01-01T00:00:00Z",
                }
            ]
        }
    )
    assert ignored_warnings(shown, notes) == [], "once per distinct message"
    assert fields_honored(_example("podinfo/canary.yaml"), default_provider="linkerd") == {
        ConditionType.FIELDS_HONORED: None
    }


def test_a_field_the_default_provider_applies_is_refused_by_the_controller() -> None:
    """No provider named: admission cannot know; the controller's default is Gateway API."""
    canary = _with_foreign(None)
    [refused] = unsupported_fields(canary, default_provider="gatewayapi:v1")
    assert refused.startswith("spec.service.rewrite with provider gatewayapi:v1 (")
    notes = fields_honored(canary, default_provider="gatewayapi:v1")
    condition = notes[ConditionType.FIELDS_HONORED]
    assert condition is not None
    assert "trafficPolicy" in condition.message
    assert "rewrite" not in condition.message


def test_route_settings_a_provider_does_not_apply_are_a_warning() -> None:
    """Flagger ignores `service.timeout` with nginx; here the Canary says it is not applied."""
    nginx = _example("nginx/canary.yaml")
    nginx.spec.service.timeout = "15s"
    condition = fields_honored(nginx, default_provider="linkerd")[ConditionType.FIELDS_HONORED]
    assert condition is not None
    assert "spec.service.timeout is not applied by provider nginx" in condition.message
    assert unsupported_fields(nginx, default_provider="linkerd") == []  # released all the same
    for path in ("gatewayapi/canary.yaml", "istio/canary.yaml", "contour/canary.yaml"):
        applied = fields_honored(_example(path), default_provider="linkerd")
        assert applied == {ConditionType.FIELDS_HONORED: None}, path
