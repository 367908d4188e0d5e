"""Istio: the VirtualService and DestinationRules per strategy, as Flagger writes them, the fields
that apply, the refusals, reading weights back, adoption and its release patch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.api.analysis import MatchRequest, StringMatch
from canary.api.canary import HeaderOperations, Headers
from canary.cli.check.command import check_document
from canary.kube.resources import CanaryRef
from canary.routers.base import RouteError, RouteRef
from canary.routers.istio import IstioRouter, original_of, restore_patch
from canary.routers.istio_objects import (
    ORIGINAL_ANNOTATION,
    IstioSettings,
    destination_rule,
    istio_duration,
    istio_settings,
    merge_matches,
    virtual_service,
    virtual_service_weights,
)
from canary.routers.registry import router_kind
from canary.routers.settings import RouteSettings
from canary.routers.sticky import Affinity, Cookies

REPOSITORY = Path(__file__).resolve().parents[3]
OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)
OWNER_REFERENCE = OWNER.owner_reference()
OPT_OUT = {
    "kustomize.toolkit.fluxcd.io/reconcile": "disabled",
    "helm.toolkit.fluxcd.io/driftDetection": "disabled",
}


def _to(host: str, weight: object) -> dict[str, Any]:
    return {"destination": {"host": host}, "weight": weight}


def _settings(**fields: Any) -> IstioSettings:
    values: dict[str, Any] = {"provider": "istio", "port": 9898}
    paths = {k: v for k, v in fields.items() if k.startswith("spec.")}
    values |= {k: v for k, v in fields.items() if not k.startswith("spec.")}
    return istio_settings(RouteSettings(**values, fields=paths))


def test_canary_weights_a_virtual_service_named_after_the_apex_on_the_mesh() -> None:
    vs = virtual_service(ROUTE, _settings(), primary_weight=90, canary_weight=10)
    assert vs == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "annotations": OPT_OUT,
            "ownerReferences": [OWNER_REFERENCE],
        },
        "spec": {
            "hosts": ["podinfo"],
            "gateways": ["mesh"],
            "http": [{"route": [_to("podinfo-primary", 90), _to("podinfo-canary", 10)]}],
        },
    }
    assert virtual_service_weights(vs, ROUTE) == (90, 10)


def test_destination_rules_carry_the_traffic_policy() -> None:
    policy = {"tls": {"mode": "ISTIO_MUTUAL"}, "loadBalancer": {"simple": "LEAST_REQUEST"}}
    settings = _settings(**{"spec.service.trafficPolicy": policy})
    rule = destination_rule("podinfo-canary", ROUTE, settings)
    assert rule == {
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "DestinationRule",
        "metadata": {
            "name": "podinfo-canary",
            "namespace": "test",
            "annotations": OPT_OUT,
            "ownerReferences": [OWNER_REFERENCE],
        },
        "spec": {"host": "podinfo-canary", "trafficPolicy": policy},
    }
    assert destination_rule("podinfo-primary", ROUTE, _settings())["spec"] == {
        "host": "podinfo-primary"
    }


def test_every_http_setting_goes_on_the_weighted_route_in_flaggers_form() -> None:
    match = [{"uri": {"prefix": "/api"}}]
    retries = {"attempts": 3, "perTryTimeout": "1s", "retryOn": "gateway-error,connect-failure"}
    cors = {"allowOrigins": [{"exact": "https://example.com"}], "allowMethods": ["GET"]}
    headers = Headers(request=HeaderOperations(add={"x-some-header": "value"}))
    settings = _settings(
        hosts=("app.example.com",),
        timeout="1m30s",
        headers=headers,
        labels={"team": "a"},
        annotations={"note": "b"},
        **{
            "spec.service.gateways": ["public-gateway.istio-system.svc.cluster.local"],
            "spec.service.match": match,
            "spec.service.rewrite": {"uri": "/", "type": "ReplacePrefixMatch"},
            "spec.service.retries": retries,
            "spec.service.corsPolicy": cors,
        },
    )
    vs = virtual_service(ROUTE, settings, primary_weight=100, canary_weight=0)
    assert vs["metadata"]["labels"] == {"team": "a"}
    assert vs["metadata"]["annotations"] == {"note": "b", **OPT_OUT}
    assert vs["spec"] == {
        "hosts": ["app.example.com", "podinfo"],
        "gateways": ["public-gateway.istio-system.svc.cluster.local"],
        "http": [
            {
                "match": match,
                "rewrite": {"uri": "/"},  # `type` is Gateway API's
                "timeout": "90s",
                "retries": retries,
                "corsPolicy": cors,
                "headers": {"request": {"add": {"x-some-header": "value"}}},
                "route": [_to("podinfo-primary", 100), _to("podinfo-canary", 0)],
            }
        ],
    }


@pytest.mark.parametrize(("hosts", "expected"), [(("*",), ["*"]), (("podinfo",), ["podinfo"])])
def test_the_apex_host_is_added_unless_covered(hosts: tuple[str, ...], expected: list[str]) -> None:
    vs = virtual_service(ROUTE, _settings(hosts=hosts), primary_weight=100, canary_weight=0)
    assert vs["spec"]["hosts"] == expected


def test_delegation_writes_a_delegate_without_hosts_and_gateways() -> None:
    settings = _settings(**{"spec.service.delegation": True})
    vs = virtual_service(ROUTE, settings, primary_weight=100, canary_weight=0)
    assert vs["spec"]["hosts"] == []
    assert vs["spec"]["gateways"] == []


def test_port_discovery_behind_a_gateway_names_the_destination_port() -> None:
    settings = _settings(port_discovery=True, **{"spec.service.gateways": ["gw"]})
    vs = virtual_service(ROUTE, settings, primary_weight=60, canary_weight=40)
    destinations = vs["spec"]["http"][0]["route"]
    assert destinations[0] == {
        "destination": {"host": "podinfo-primary", "port": {"number": 9898}},
        "weight": 60,
    }
    on_mesh = virtual_service(
        ROUTE, _settings(port_discovery=True), primary_weight=60, canary_weight=40
    )
    assert "port" not in on_mesh["spec"]["http"][0]["route"][0]["destination"]


def test_ab_testing_sends_matching_requests_by_weight_and_the_rest_to_the_primary() -> None:
    matches = (
        MatchRequest(headers={"x-canary": StringMatch(exact="insider")}),
        MatchRequest(headers={"cookie": StringMatch(regex="^(.*?;)?(type=insider)(;.*)?$")}),
        MatchRequest(headers={"user-agent": StringMatch(suffix="Firefox")}),
    )
    settings = _settings(matches=matches)
    vs = virtual_service(ROUTE, settings, primary_weight=0, canary_weight=100)
    assert vs["spec"]["http"] == [
        {
            "match": [
                {"headers": {"x-canary": {"exact": "insider"}}},
                {"headers": {"cookie": {"regex": "^(.*?;)?(type=insider)(;.*)?$"}}},
                {"headers": {"user-agent": {"regex": ".*Firefox"}}},
            ],
            "route": [_to("podinfo-primary", 0), _to("podinfo-canary", 100)],
        },
        {"route": [_to("podinfo-primary", 100)]},
    ]
    assert virtual_service_weights(vs, ROUTE) == (0, 100)


def test_ab_testing_matches_the_calling_pods_labels_merged_into_each_service_match() -> None:
    matches = (
        MatchRequest(
            headers={"x-canary": StringMatch(exact="insider")},
            source_labels={"app": "frontend", "version": "v2"},
        ),
        MatchRequest(source_labels={"app": "batch"}),
    )
    settings = _settings(matches=matches, **{"spec.service.match": [{"uri": {"prefix": "/api"}}]})
    vs = virtual_service(ROUTE, settings, primary_weight=0, canary_weight=100)
    assert vs["spec"]["http"][0]["match"] == [
        {
            "uri": {"prefix": "/api"},
            "headers": {"x-canary": {"exact": "insider"}},
            "sourceLabels": {"app": "frontend", "version": "v2"},
        },
        {"uri": {"prefix": "/api"}, "sourceLabels": {"app": "batch"}},
    ]
    assert vs["spec"]["http"][1] == {
        "match": [{"uri": {"prefix": "/api"}}],
        "route": [_to("podinfo-primary", 100)],
    }


def test_ab_conditions_are_merged_into_each_service_match() -> None:
    defaults = [{"uri": {"prefix": "/api"}}, {"uri": {"prefix": "/v2"}}]
    canary = [{"headers": {"x": {"exact": "1"}}}]
    assert merge_matches(canary, defaults) == [
        {"uri": {"prefix": "/api"}, "headers": {"x": {"exact": "1"}}},
        {"uri": {"prefix": "/v2"}, "headers": {"x": {"exact": "1"}}},
    ]
    assert merge_matches(canary, []) == canary


def test_mirroring_copies_the_weighted_routes_requests_to_the_canary() -> None:
    settings = _settings(mirror_percent=50)
    vs = virtual_service(ROUTE, settings, primary_weight=100, canary_weight=0, mirror=True)
    http = vs["spec"]["http"][0]
    assert http["mirror"] == {"host": "podinfo-canary"}
    assert http["mirrorPercentage"] == {"value": 50.0}
    everything = virtual_service(
        ROUTE, _settings(), primary_weight=100, canary_weight=0, mirror=True
    )
    assert "mirrorPercentage" not in everything["spec"]["http"][0]


def test_blue_green_switches_the_same_route_all_at_once() -> None:
    vs = virtual_service(ROUTE, _settings(), primary_weight=0, canary_weight=100)
    assert vs["spec"]["http"][0]["route"] == [_to("podinfo-primary", 0), _to("podinfo-canary", 100)]
    assert router_kind("istio").progressive


AFFINITY = Affinity(cookie_name="flagger-cookie", interval_seconds=15, max_age=60)


def test_session_affinity_pins_cookie_holders_to_the_canary_before_the_weighted_route() -> None:
    settings = _settings(affinity=AFFINITY)
    cookies = Cookies(canary="flagger-cookie=abc123")
    vs = virtual_service(ROUTE, settings, primary_weight=90, canary_weight=10, cookies=cookies)
    sticky, weighted = vs["spec"]["http"]
    assert sticky == {
        "name": "sticky-route",
        "match": [{"headers": {"Cookie": {"regex": ".*flagger-cookie.*abc123.*"}}}],
        "route": [_to("podinfo-primary", 0), _to("podinfo-canary", 100)],
    }
    assert weighted["route"] == [
        _to("podinfo-primary", 90),
        {
            **_to("podinfo-canary", 10),
            "headers": {"response": {"add": {"Set-Cookie": "flagger-cookie=abc123; Max-Age=60"}}},
        },
    ]
    assert vs["metadata"]["annotations"]["canary.dev/session-affinity-cookie"] == (
        "flagger-cookie=abc123"
    )
    assert virtual_service_weights(vs, ROUTE) == (90, 10)


def test_session_affinity_expires_the_previous_cookie_once_the_weight_is_back_to_zero() -> None:
    settings = _settings(affinity=AFFINITY)
    cookies = Cookies(previous="flagger-cookie=abc123")
    vs = virtual_service(ROUTE, settings, primary_weight=100, canary_weight=0, cookies=cookies)
    expire, weighted = vs["spec"]["http"]
    assert expire["name"] == "sticky-route"
    assert expire["headers"] == {
        "response": {"add": {"Set-Cookie": "flagger-cookie=abc123; Max-Age=-1"}}
    }
    assert expire["route"] == [_to("podinfo-primary", 100), _to("podinfo-canary", 0)]
    assert weighted["route"] == [_to("podinfo-primary", 100), _to("podinfo-canary", 0)]


def test_tcp_services_get_a_tcp_route_with_port_matches() -> None:
    settings = _settings(app_protocol="TCP", **{"spec.service.match": [{"port": 9898}]})
    vs = virtual_service(ROUTE, settings, primary_weight=80, canary_weight=20)
    assert vs["spec"]["tcp"] == [
        {
            "match": [{"port": 9898}],
            "route": [_to("podinfo-primary", 80), _to("podinfo-canary", 20)],
        }
    ]
    assert "http" not in vs["spec"]
    assert virtual_service_weights(vs, ROUTE) == (80, 20)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"spec.service.delegation": True, "hosts": ("a.example",)},
            "spec.service.delegation cannot be set with spec.service.hosts",
        ),
        (
            {"spec.service.delegation": True, "spec.service.gateways": ["gw"]},
            "spec.service.delegation cannot be set with",
        ),
        ({"spec.service.delegation": "yes"}, "spec.service.delegation must be true or false"),
        ({"spec.service.gateways": "gw"}, "spec.service.gateways must be a list"),
        ({"spec.service.retries": 3}, "spec.service.retries must be an object"),
        ({"spec.service.match": {"uri": {}}}, "spec.service.match must be a list of objects"),
        ({"gateway_refs": ({"name": "gw"},)}, "spec.service.gatewayRefs are Gateway API"),
        (
            {"app_protocol": "tcp", "timeout": "10s"},
            "spec.service.timeout applies to HTTP routes; spec.service.appProtocol is tcp",
        ),
        (
            {"app_protocol": "tcp", "spec.service.match": [{"uri": {"exact": "/"}}]},
            r"spec.service.match\[0\] may only hold a port",
        ),
    ],
)
def test_settings_istio_cannot_apply_are_refused_naming_the_field(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        _settings(**fields)
    assert "(provider istio)" in str(caught.value)


@pytest.mark.parametrize(
    ("duration", "expected"), [("30s", "30s"), ("1m30s", "90s"), ("500ms", "0.5s"), ("1h", "3600s")]
)
def test_durations_are_protobuf_durations(duration: str, expected: str) -> None:
    assert istio_duration(duration) == expected


def test_weights_are_read_from_fully_qualified_hosts_too() -> None:
    vs = {
        "spec": {
            "http": [
                {
                    "route": [
                        _to("podinfo-primary.test.svc.cluster.local", 3),
                        _to("podinfo-canary", 1),
                    ]
                }
            ]
        }
    }
    assert virtual_service_weights(vs, ROUTE) == (75, 25)


@pytest.mark.parametrize(
    "vs",
    [
        {"spec": {}},
        {"spec": {"http": [{"route": [_to("other", 100)]}]}},
        {"spec": {"http": [{"route": [_to("podinfo-primary", 0), _to("podinfo-canary", 0)]}]}},
        {"spec": {"http": [{"route": [_to("podinfo-primary", "x"), _to("podinfo-canary", 0)]}]}},
    ],
)
def test_a_virtual_service_without_the_split_is_malformed(vs: dict[str, Any]) -> None:
    with pytest.raises(RouteError, match="VirtualService test/podinfo"):
        virtual_service_weights(vs, ROUTE)


USERS: dict[str, Any] = {
    "metadata": {"name": "podinfo", "namespace": "test", "resourceVersion": "7"},
    "spec": {"hosts": ["podinfo"], "http": [{"route": [{"destination": {"host": "podinfo"}}]}]},
}


def test_a_users_virtual_service_is_adopted_keeping_its_spec_and_without_owner() -> None:
    original = original_of(USERS, ROUTE)
    assert original is not None
    assert json.loads(original) == USERS["spec"]
    vs = virtual_service(ROUTE, _settings(), primary_weight=100, canary_weight=0, original=original)
    assert "ownerReferences" not in vs["metadata"]
    assert vs["metadata"]["annotations"][ORIGINAL_ANNOTATION] == original
    # Once adopted, the kept spec stays the one from before the Canary.
    assert original_of(vs, ROUTE) == original
    # The Canary's own VirtualService is never taken for a user's.
    ours = virtual_service(ROUTE, _settings(), primary_weight=100, canary_weight=0)
    assert original_of(ours, ROUTE) is None
    assert original_of(None, ROUTE) is None


def test_release_restores_an_adopted_virtual_service_and_leaves_the_canarys_own() -> None:
    original = original_of(USERS, ROUTE)
    adopted = virtual_service(
        ROUTE, _settings(), primary_weight=100, canary_weight=0, original=original
    )
    adopted["metadata"]["resourceVersion"] = "9"
    patch = restore_patch(adopted, owner_uid="uid-1")
    assert patch == {
        "metadata": {"resourceVersion": "9", "annotations": {ORIGINAL_ANNOTATION: None}},
        "spec": {"gateways": None, **USERS["spec"]},
    }
    ours = virtual_service(ROUTE, _settings(), primary_weight=100, canary_weight=0)
    assert restore_patch(ours, owner_uid="uid-1") is None


def test_the_registry_describes_istio() -> None:
    kind = router_kind("istio")
    assert kind.route is not None
    assert (kind.route.api_version, kind.route.kind) == (
        "networking.istio.io/v1beta1",
        "VirtualService",
    )
    assert kind.can_match
    assert kind.can_mirror
    assert kind.sticky
    assert kind.release is not None
    assert "spec.service.trafficPolicy" in kind.applies
    assert "spec.service.mirror" not in kind.applies  # Gateway API's static mirrors


class _Reader:
    def __init__(self, stored: dict[str, Any] | None) -> None:
        self.stored = stored

    async def __call__(self, *_: Any) -> dict[str, Any] | None:
        return self.stored


async def test_a_users_virtual_service_reads_as_no_route_until_adopted() -> None:
    async with ApiClient(Configuration()) as api:
        router = IstioRouter(api, _settings(), read=_Reader(USERS))
        assert await router.get_weights(ROUTE) is None  # reconcile adopts it
        original = original_of(USERS, ROUTE)
        adopted = virtual_service(
            ROUTE, _settings(), primary_weight=80, canary_weight=20, original=original
        )
        router = IstioRouter(api, _settings(), read=_Reader(adopted))
        assert await router.get_weights(ROUTE) == (80, 20)


def test_canary_check_refuses_what_only_the_istio_router_refuses() -> None:
    manifest = yaml.safe_load((REPOSITORY / "examples/istio/canary.yaml").read_text())
    assert check_document(manifest, number=1, provider="linkerd").problems == ()
    manifest["spec"]["service"]["delegation"] = True
    (problem,) = check_document(manifest, number=1, provider="linkerd").problems
    assert "spec.service.delegation cannot be set with spec.service.hosts" in problem.text
    assert "(provider istio)" in problem.text


def test_a_primary_cookie_keeps_its_holders_on_the_primary() -> None:
    affinity = Affinity(
        cookie_name="canary", interval_seconds=15, primary_cookie_name="stable", max_age=60
    )
    cookies = Cookies(canary="canary=c1", primary="stable=p1")
    vs = virtual_service(
        ROUTE, _settings(affinity=affinity), primary_weight=80, canary_weight=20, cookies=cookies
    )
    to_canary, to_primary, weighted = vs["spec"]["http"]
    assert to_canary["route"] == [_to("podinfo-primary", 0), _to("podinfo-canary", 100)]
    assert to_primary["match"] == [{"headers": {"Cookie": {"regex": ".*stable.*p1.*"}}}]
    assert to_primary["route"] == [_to("podinfo-primary", 100), _to("podinfo-canary", 0)]
    primary_cookie = weighted["route"][0]["headers"]["response"]["add"]["Set-Cookie"]
    assert primary_cookie == "stable=p1; Max-Age=15"


def test_the_documented_example_is_the_example_file() -> None:
    page = (REPOSITORY / "docs/providers/istio.md").read_text()
    documented = [
        d for d in yaml.safe_load_all(page.split("```yaml\n", 1)[1].split("```", 1)[0]) if d
    ]
    assert documented == [yaml.safe_load((REPOSITORY / "examples/istio/canary.yaml").read_text())]
