"""The provider registries agree: admission's names, the routers, the builtin metrics."""

from __future__ import annotations

import pytest

from canary.api.foreign import PROVIDERS as ADMITTED
from canary.api.foreign import RETIRED, provider_message
from canary.metrics.builtin import table_of
from canary.routers.registry import PROVIDERS, route_kinds, router_kind


def test_admission_admits_exactly_the_providers_that_have_a_router() -> None:
    assert set(ADMITTED) == set(PROVIDERS)


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_every_provider_has_builtin_metrics(provider: str) -> None:
    table = table_of(provider)
    assert "{{ namespace }}" in table.success_rate
    assert "{{ interval }}" in table.duration


def test_route_kinds_are_listed_once_each() -> None:
    kinds = [kind.kind for kind in route_kinds()]
    assert len(kinds) == len(set(kinds))
    assert {"TrafficSplit", "HTTPRoute"} <= set(kinds)
    assert router_kind("kubernetes").route is None


@pytest.mark.parametrize("provider", sorted(RETIRED))
def test_retired_providers_are_refused_saying_so(provider: str) -> None:
    assert provider not in PROVIDERS
    message = provider_message(provider)
    assert "retired upstream" in message
    assert RETIRED[provider] not in ("",)
    with pytest.raises(ValueError, match="unknown traffic provider"):
        router_kind(provider)
