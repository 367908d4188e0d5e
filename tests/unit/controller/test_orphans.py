"""Reading who holds a cluster-scoped route object (`canary.controller.orphans`)."""

from __future__ import annotations

from typing import Any

import pytest

from canary.controller.orphans import holder_key
from canary.kube.resources import CanaryRef
from canary.routers.base import HOLDER_ANNOTATION, RouteRef, holder_of, route_holder


@pytest.mark.parametrize(
    ("holder", "key"),
    [
        ("shop/podinfo", ("shop", "podinfo")),
        ("podinfo", None),  # no namespace: not a Canary's name
        ("/podinfo", None),
        ("shop/", None),
        ("a/b/c", None),
    ],
)
def test_holder_key(holder: str, key: tuple[str, str] | None) -> None:
    assert holder_key(holder) == key


@pytest.mark.parametrize(
    ("obj", "holder"),
    [
        ({"metadata": {"annotations": {HOLDER_ANNOTATION: "shop/podinfo"}}}, "shop/podinfo"),
        ({"metadata": {"annotations": {HOLDER_ANNOTATION: ""}}}, None),
        ({"metadata": {"annotations": {}}}, None),
        ({"metadata": {}}, None),
        (None, None),
    ],
)
def test_holder_of(obj: dict[str, Any] | None, holder: str | None) -> None:
    assert holder_of(obj) == holder


def test_route_holder_names_the_owning_canary_else_the_apex() -> None:
    owner = CanaryRef(name="web", namespace="shop", uid="u")
    assert route_holder(RouteRef(namespace="shop", apex="podinfo", owner=owner)) == "shop/web"
    assert route_holder(RouteRef(namespace="shop", apex="podinfo", owner=None)) == "shop/podinfo"
