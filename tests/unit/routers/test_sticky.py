"""Sticky canary sessions on the HTTPRoute (Flagger's sessionAffinity for Gateway API)."""

from __future__ import annotations

import re
from typing import Any

from canary.kube.resources import CanaryRef
from canary.routers.base import RouteRef
from canary.routers.gatewayapi import GatewaySettings, GatewayVersion, http_route, route_weights
from canary.routers.sticky import (
    CURRENT_ANNOTATION,
    PREVIOUS_ANNOTATION,
    Affinity,
    Cookies,
    cookie_attributes,
    cookies_for,
)

ROUTE = RouteRef(namespace="test", apex="podinfo", owner=CanaryRef("podinfo", "test", "u-1"))
AFFINITY = Affinity(cookie_name="flagger-cookie", interval_seconds=30, max_age=21600)


def _route(weights: tuple[int, int], cookies: Cookies, affinity: Affinity = AFFINITY) -> Any:
    settings = GatewaySettings(port=9898, affinity=affinity)
    return http_route(
        GatewayVersion.V1,
        ROUTE,
        settings,
        primary_weight=weights[0],
        canary_weight=weights[1],
        cookies=cookies,
    )


def _set_cookies(refs: list[dict[str, Any]]) -> dict[str, list[str]]:
    return {
        ref["name"]: [
            header["value"]
            for f in ref.get("filters", [])
            for header in f["responseHeaderModifier"]["add"]
        ]
        for ref in refs
    }


def test_while_the_canary_has_weight_its_cookie_holders_stay_on_it() -> None:
    cookies = cookies_for(None, AFFINITY, canary_weight=10)
    assert cookies.canary is not None
    assert re.fullmatch("flagger-cookie=[0-9a-f]{16}", cookies.canary)
    manifest = _route((90, 10), cookies)
    sticky, weighted = manifest["spec"]["rules"]
    value = cookies.canary.split("=")[1]
    assert sticky["matches"] == [
        {
            "path": {"type": "PathPrefix", "value": "/"},
            "headers": [
                {
                    "type": "RegularExpression",
                    "name": "Cookie",
                    "value": f".*flagger-cookie.*{value}.*",
                }
            ],
        }
    ]
    assert [(r["name"], r["weight"]) for r in sticky["backendRefs"]] == [
        ("podinfo-primary", 0),
        ("podinfo-canary", 100),
    ]
    assert _set_cookies(sticky["backendRefs"]) == {"podinfo-primary": [], "podinfo-canary": []}
    assert _set_cookies(weighted["backendRefs"]) == {
        "podinfo-primary": [],
        "podinfo-canary": [f"{cookies.canary}; Max-Age=21600"],
    }
    assert manifest["metadata"]["annotations"][CURRENT_ANNOTATION] == cookies.canary
    assert route_weights(manifest, ROUTE) == (90, 10), "the weighted rule, not the sticky one"


def test_the_cookie_is_kept_for_the_run_and_expired_after_it() -> None:
    first = _route((90, 10), cookies_for(None, AFFINITY, canary_weight=10))
    again = cookies_for(first, AFFINITY, canary_weight=20)
    assert again.canary == first["metadata"]["annotations"][CURRENT_ANNOTATION]
    done = cookies_for(_route((80, 20), again), AFFINITY, canary_weight=0)
    assert done == Cookies(previous=again.canary)
    finished = _route((100, 0), done)
    expire, _weighted = finished["spec"]["rules"]
    assert expire["filters"][-1]["responseHeaderModifier"]["add"] == [
        {"name": "Set-Cookie", "value": f"{again.canary}; Max-Age=-1"}
    ]
    assert finished["metadata"]["annotations"][PREVIOUS_ANNOTATION] == again.canary
    assert CURRENT_ANNOTATION not in finished["metadata"]["annotations"]
    assert route_weights(finished, ROUTE) == (100, 0)
    # The next run gets a new cookie; the previous one stays expired until then.
    assert cookies_for(finished, AFFINITY, canary_weight=0) == done
    assert cookies_for(finished, AFFINITY, canary_weight=10).canary != again.canary


def test_a_primary_cookie_lasts_one_interval_and_keeps_its_holders_on_the_primary() -> None:
    affinity = Affinity(
        cookie_name="canary",
        primary_cookie_name="primary",
        interval_seconds=30,
        attributes=cookie_attributes(path="/", secure=True, same_site="Lax", http_only=True),
    )
    cookies = cookies_for(None, affinity, canary_weight=10)
    assert cookies.primary is not None
    sticky_canary, sticky_primary, weighted = _route((90, 10), cookies, affinity)["spec"]["rules"]
    assert [r["weight"] for r in sticky_primary["backendRefs"]] == [100, 0]
    assert _set_cookies(weighted["backendRefs"]) == {
        "podinfo-primary": [
            f"{cookies.primary}; Max-Age=30; Path=/; HttpOnly; Secure; SameSite=Lax"
        ],
        "podinfo-canary": [
            f"{cookies.canary}; Max-Age=86400; Path=/; HttpOnly; Secure; SameSite=Lax"
        ],
    }
    assert sticky_canary["backendRefs"][1]["weight"] == 100
