"""What the controller asks of the `traefik` router, from examples/traefik: its settings, the
strategies it refuses before anything is released (A/B, session affinity), and the fields of
other providers it reports as ignored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from canary.api.canary import Canary
from canary.controller.routing import route_settings
from canary.controller.support import fields_honored, unsupported_fields
from canary.core.conditions import ConditionType

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def _example(path: str, **analysis: Any) -> Canary:
    manifest = yaml.safe_load((EXAMPLES / path).read_text())
    manifest["metadata"].update(namespace="shop", uid="u-1")
    manifest["spec"]["analysis"].update(analysis)
    return Canary.model_validate(manifest)


def test_the_traefik_examples_ask_nothing_the_router_cannot_do() -> None:
    for path in ("traefik/canary.yaml", "traefik/canary-mirroring.yaml"):
        assert unsupported_fields(_example(path), default_provider="linkerd") == [], path


def test_the_router_gets_the_service_port_and_the_mirrored_share() -> None:
    settings = route_settings(_example("traefik/canary-mirroring.yaml", mirrorWeight=40), "traefik")
    assert settings.port == 80
    assert settings.mirror_percent == 40


def test_ab_testing_and_session_affinity_are_refused_naming_the_field_and_provider() -> None:
    match = [{"headers": {"x-canary": {"exact": "insider"}}}]
    ab = _example("traefik/canary.yaml", iterations=5, match=match, stepWeight=None, maxWeight=None)
    [found] = unsupported_fields(ab, default_provider="linkerd")
    assert found.startswith("spec.analysis.match with provider traefik")
    sticky = _example("traefik/canary.yaml", sessionAffinity={"cookieName": "canary"})
    [found] = unsupported_fields(sticky, default_provider="linkerd")
    assert found.startswith("spec.analysis.sessionAffinity with provider traefik")


def test_istio_fields_with_traefik_are_ignored_with_a_warning() -> None:
    manifest = yaml.safe_load((EXAMPLES / "traefik/canary.yaml").read_text())
    manifest["metadata"].update(namespace="shop", uid="u-1")
    manifest["spec"]["service"]["trafficPolicy"] = {"tls": {}}
    canary = Canary.model_validate(manifest)
    assert unsupported_fields(canary, default_provider="linkerd") == []
    condition = fields_honored(canary, default_provider="linkerd")[ConditionType.FIELDS_HONORED]
    assert condition is not None
    assert "spec.service.trafficPolicy" in condition.message
    assert "ignored with provider traefik" in condition.message
