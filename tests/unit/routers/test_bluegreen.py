"""The kubernetes provider's router: the apex Service's selector is the route."""

from __future__ import annotations

from typing import Any

import pytest

from canary.routers.base import RouteError, RouteRef
from canary.routers.bluegreen import apex_weights, selector_patch

ROUTE = RouteRef(namespace="test", apex="podinfo", owner=None)


def _service(**selector: str) -> dict[str, Any]:
    return {"spec": {"selector": selector}}


PRIMARY = _service(app="podinfo-primary")
CANARY = _service(app="podinfo")


def test_the_apex_reads_as_all_primary_or_all_canary() -> None:
    assert apex_weights(_service(app="podinfo-primary"), PRIMARY, CANARY, ROUTE) == (100, 0)
    assert apex_weights(_service(app="podinfo"), PRIMARY, CANARY, ROUTE) == (0, 100)


@pytest.mark.parametrize("apex", [_service(app="other"), _service(), {"spec": {}}])
def test_an_apex_selecting_neither_is_a_route_error(apex: dict[str, Any]) -> None:
    with pytest.raises(RouteError, match="neither the pods of podinfo-primary nor"):
        apex_weights(apex, PRIMARY, CANARY, ROUTE)


def test_the_selector_patch_replaces_the_selector_exactly() -> None:
    patch = selector_patch({"app": "podinfo-primary", "tier": "web"}, {"app": "podinfo"})
    assert patch == {"spec": {"selector": {"tier": None, "app": "podinfo"}}}
