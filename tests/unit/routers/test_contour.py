"""Contour HTTPProxy: the manifest per strategy (canary weights, A/B, blue/green), the fields it
applies (timeout, retries, the path prefix, headers), refusals naming the field, and reading
weights back."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.api.analysis import MatchRequest, StringMatch
from canary.api.canary import HeaderOperations, Headers
from canary.kube.resources import CanaryRef, ResourceKind
from canary.routers.base import RouteError, RouteRef
from canary.routers.contour import (
    ContourRouter,
    ContourSettings,
    Retries,
    contour_settings,
    http_proxy,
    proxy_weights,
    release_patch,
)
from canary.routers.registry import router_for, router_kind
from canary.routers.settings import ControllerRouting, RouteSettings

OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)
OPT_OUT = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}


def _service(name: str, weight: int, port: int = 9898) -> dict[str, Any]:
    return {
        "name": name,
        "port": port,
        "weight": weight,
        "requestHeadersPolicy": {
            "set": [{"name": "l5d-dst-override", "value": f"{name}.test.svc.cluster.local:{port}"}]
        },
    }


def _settings(**fields: Any) -> RouteSettings:
    return RouteSettings(provider="contour", port=9898, **fields)


def test_canary_weights_on_one_route_as_flagger_writes_it() -> None:
    proxy = http_proxy(ROUTE, ContourSettings(port=9898), primary_weight=90, canary_weight=10)
    assert proxy == {
        "apiVersion": "projectcontour.io/v1",
        "kind": "HTTPProxy",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": OPT_OUT,
            "ownerReferences": [
                {
                    "apiVersion": "canary.dev/v1alpha1",
                    "kind": "Canary",
                    "name": "podinfo",
                    "uid": "uid-1",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "routes": [
                {
                    "conditions": [{"prefix": "/"}],
                    "services": [_service("podinfo-primary", 90), _service("podinfo-canary", 10)],
                }
            ]
        },
    }


def test_blue_green_switches_the_same_route_at_once() -> None:
    settings = ContourSettings(port=9898)
    before = http_proxy(ROUTE, settings, primary_weight=100, canary_weight=0)
    after = http_proxy(ROUTE, settings, primary_weight=0, canary_weight=100)
    assert proxy_weights(before, ROUTE) == (100, 0)
    assert proxy_weights(after, ROUTE) == (0, 100)


def test_timeout_and_retries_become_the_route_policies() -> None:
    settings = contour_settings(
        _settings(
            timeout="30s",
            fields={
                "spec.service.retries": {
                    "attempts": 3,
                    "perTryTimeout": "5s",
                    "retryOn": "gateway-error,connect-failure",
                }
            },
        )
    )
    assert settings.retries == Retries(3, "5s", ("gateway-error", "connect-failure"))
    (route,) = http_proxy(ROUTE, settings, primary_weight=100, canary_weight=0)["spec"]["routes"]
    assert route["timeoutPolicy"] == {"response": "30s", "idle": "5m"}
    assert route["retryPolicy"] == {
        "count": 3,
        "perTryTimeout": "5s",
        "retryOn": ["gateway-error", "connect-failure"],
    }


def test_the_path_prefix_comes_from_service_match() -> None:
    match = [{"uri": {"prefix": "/api"}}]
    settings = contour_settings(_settings(fields={"spec.service.match": match}))
    (route,) = http_proxy(ROUTE, settings, primary_weight=100, canary_weight=0)["spec"]["routes"]
    assert route["conditions"] == [{"prefix": "/api"}]


def test_ab_testing_has_one_route_per_match_then_the_rest_to_the_primary() -> None:
    matches = (
        MatchRequest(headers={"x-canary": StringMatch(exact="insider")}),
        MatchRequest(
            headers={"user-agent": StringMatch(prefix="Mozilla/5")},
            query_params={"beta": StringMatch(exact="1")},
        ),
        MatchRequest(headers={"cookie": StringMatch(suffix="canary=always")}),
    )
    settings = contour_settings(_settings(matches=matches))
    routes = http_proxy(ROUTE, settings, primary_weight=0, canary_weight=100)["spec"]["routes"]
    assert [r["conditions"] for r in routes] == [
        [{"prefix": "/"}, {"header": {"name": "x-canary", "exact": "insider"}}],
        [
            {"prefix": "/"},
            {"header": {"name": "user-agent", "regex": "^Mozilla/5.*"}},
            {"queryParameter": {"name": "beta", "exact": "1"}},
        ],
        [{"prefix": "/"}, {"header": {"name": "cookie", "regex": ".*canary=always$"}}],
        [{"prefix": "/"}],
    ]
    assert [[s["weight"] for s in r["services"]] for r in routes] == [
        [0, 100],
        [0, 100],
        [0, 100],
        [100, 0],
    ]
    assert proxy_weights({"spec": {"routes": routes}}, ROUTE) == (0, 100)


def test_headers_are_set_and_removed_on_the_route() -> None:
    headers = Headers(
        request=HeaderOperations(set={"x-env": "canary"}, remove=["x-debug"]),
        response=HeaderOperations(set={"x-served-by": "podinfo"}),
    )
    settings = contour_settings(_settings(headers=headers))
    (route,) = http_proxy(ROUTE, settings, primary_weight=100, canary_weight=0)["spec"]["routes"]
    assert route["requestHeadersPolicy"] == {
        "set": [{"name": "x-env", "value": "canary"}],
        "remove": ["x-debug"],
    }
    assert route["responseHeadersPolicy"] == {"set": [{"name": "x-served-by", "value": "podinfo"}]}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"headers": Headers(request=HeaderOperations(add={"a": "b"}))}, "headers.request.add"),
        ({"fields": {"spec.service.retries": {"attempts": -1}}}, "retries.attempts"),
        ({"fields": {"spec.service.retries": {"retryOn": "503"}}}, "retries.retryOn"),
        ({"fields": {"spec.service.retries": "3"}}, "spec.service.retries"),
        ({"fields": {"spec.service.match": [{"uri": {"exact": "/"}}]}}, "spec.service.match"),
        ({"fields": {"spec.service.match": [{"uri": {"prefix": "/a"}}] * 2}}, "service.match"),
        ({"fields": {"spec.service.match": [{"uri": {"prefix": "a"}}]}}, "uri.prefix"),
        ({"matches": (MatchRequest(),)}, "spec.analysis.match[0]"),
    ],
)
def test_what_contour_cannot_apply_is_refused_naming_the_field(
    fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match="with provider contour") as error:
        contour_settings(_settings(**fields))
    assert named in str(error.value)


def test_capabilities_refuse_mirroring_and_sticky_sessions() -> None:
    kind = router_kind("contour")
    assert kind.route is not None
    assert (kind.route.api_version, kind.route.kind) == ("projectcontour.io/v1", "HTTPProxy")
    assert kind.can_match
    assert kind.match_query_params
    assert not kind.can_mirror
    assert not kind.sticky
    assert kind.applies == {"spec.service.retries", "spec.service.match"}


@pytest.mark.parametrize(("primary", "canary"), [(90, 20), (-10, 110), (0, 0)])
def test_weights_must_be_percentages_summing_to_100(primary: int, canary: int) -> None:
    with pytest.raises(ValueError, match="summing to 100"):
        http_proxy(ROUTE, ContourSettings(port=80), primary_weight=primary, canary_weight=canary)


@pytest.mark.parametrize(
    "proxy",
    [
        {"spec": {}},
        {"spec": {"routes": [{"services": [{"name": "podinfo-primary", "port": 80}]}]}},
        {"spec": {"routes": [{"services": [_service("podinfo-primary", 0), _service("x", 1)]}]}},
        {
            "spec": {
                "routes": [
                    {"services": [_service("podinfo-primary", 0), _service("podinfo-canary", 0)]}
                ]
            }
        },
        {
            "spec": {
                "routes": [
                    {
                        "services": [
                            _service("podinfo-primary", 1),
                            {**_service("podinfo-canary", 1), "weight": "1"},
                        ]
                    }
                ]
            }
        },
    ],
)
def test_a_proxy_without_the_split_is_malformed(proxy: dict[str, Any]) -> None:
    with pytest.raises(RouteError, match="HTTPProxy test/podinfo"):
        proxy_weights(proxy, ROUTE)


def test_weights_are_read_relative_to_their_sum_and_mirrors_are_left_out() -> None:
    proxy = {
        "spec": {
            "routes": [
                {
                    "services": [
                        {"name": "podinfo-primary", "port": 80, "weight": 3},
                        {"name": "podinfo-canary", "port": 80, "weight": 1},
                        {"name": "podinfo-canary", "port": 80, "mirror": True},
                    ]
                }
            ]
        }
    }
    assert proxy_weights(proxy, ROUTE) == (75, 25)


class _Reader:
    def __init__(self, stored: dict[str, Any] | None) -> None:
        self.stored = stored
        self.asked: list[tuple[str, str, str]] = []

    async def __call__(
        self, resource: ResourceKind, namespace: str, name: str
    ) -> dict[str, Any] | None:
        self.asked.append((resource.api_version, namespace, name))
        return self.stored


async def test_the_router_reads_weights_through_its_reader_and_refuses_mirroring() -> None:
    settings = ContourSettings(port=80)
    reader = _Reader(http_proxy(ROUTE, settings, primary_weight=70, canary_weight=30))
    async with ApiClient(Configuration()) as api:
        router = ContourRouter(api, settings, read=reader)
        assert await router.get_weights(ROUTE) == (70, 30)
        reader.stored = None
        assert await router.get_weights(ROUTE) is None
        with pytest.raises(ValueError, match="does not mirror"):
            await router.set_weights(ROUTE, primary=100, canary=0, mirror=True)
    assert reader.asked == [("projectcontour.io/v1", "test", "podinfo")] * 2


async def test_router_for_builds_the_contour_router_with_its_settings() -> None:
    settings = _settings(timeout="1m30s", fields={"spec.service.retries": {"attempts": 2}})
    async with ApiClient(Configuration()) as api:
        router = router_for("contour", api, settings)
        assert isinstance(router, ContourRouter)
        assert router.settings.timeout == "1m30s"  # Contour takes Go durations as written
        assert router.settings.retries == Retries(2)


def test_the_release_sends_every_route_to_the_apex_service_and_drops_the_owner() -> None:
    match = MatchRequest(headers={"x-canary": StringMatch(exact="insider")})
    settings = ContourSettings(port=9898, timeout="5s", matches=(match,))
    proxy = http_proxy(ROUTE, settings, primary_weight=0, canary_weight=100)
    patch = release_patch(proxy, ROUTE)
    assert patch is not None
    assert patch["metadata"] == {"ownerReferences": []}
    routes = patch["spec"]["routes"]
    assert [r["services"] for r in routes] == [[_service("podinfo", 100)]] * 2
    assert [r["conditions"] for r in routes] == [r["conditions"] for r in proxy["spec"]["routes"]]
    assert all(r["timeoutPolicy"] == {"response": "5s", "idle": "5m"} for r in routes)
    released = {**proxy, **patch}
    assert release_patch(released, ROUTE) is None, "released once"


async def test_the_controllers_ingress_class_names_the_contour_that_serves_the_proxy() -> None:
    unclassed = http_proxy(ROUTE, ContourSettings(port=80), primary_weight=100, canary_weight=0)
    assert "ingressClassName" not in unclassed["spec"]
    assert unclassed["metadata"]["annotations"] == OPT_OUT
    settings = _settings(controller=ControllerRouting(ingress_class="internal"))
    async with ApiClient(Configuration()) as api:
        router = router_for("contour", api, settings)
    assert isinstance(router, ContourRouter)
    proxy = http_proxy(ROUTE, router.settings, primary_weight=90, canary_weight=10)
    assert proxy["metadata"]["annotations"] == {
        **OPT_OUT,
        "projectcontour.io/ingress.class": "internal",
    }
    assert proxy["spec"]["ingressClassName"] == "internal"
    assert proxy_weights(proxy, ROUTE) == (90, 10)
