"""The NGINX router's canary Ingress: copied from the user's, annotated for ingress-nginx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.api.analysis import MatchRequest, StringMatch
from canary.api.canary import Canary
from canary.controller.support import unsupported_fields
from canary.kube.resources import CanaryRef
from canary.routers.base import GITOPS_OPT_OUT, RouteError, RouteRef
from canary.routers.ingress import LAST_APPLIED
from canary.routers.nginx import (
    BY_COOKIE,
    BY_HEADER,
    BY_HEADER_PATTERN,
    BY_HEADER_VALUE,
    CANARY,
    WEIGHT,
    NginxRouter,
    canary_annotations,
    canary_ingress,
    ingress_weights,
    match_annotations,
)
from canary.routers.registry import router_for, router_kind
from canary.routers.settings import ControllerRouting, RouteSettings

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "nginx"
OWNER = CanaryRef(name="podinfo", namespace="test", uid="uid-1")
ROUTE = RouteRef(namespace="test", apex="podinfo", owner=OWNER)


def _main(**annotations: str) -> dict[str, Any]:
    """The user's Ingress, as Flagger's NGINX tutorial writes it."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "podinfo",
            "namespace": "test",
            "labels": {"app": "podinfo"},
            "annotations": {"kubernetes.io/ingress.class": "nginx", **annotations},
            "resourceVersion": "7",
            "uid": "ingress-uid",
        },
        "spec": {
            "ingressClassName": "nginx",
            "rules": [
                {
                    "host": "app.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "podinfo", "port": {"number": 80}}},
                            },
                            {
                                "path": "/static",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "cdn", "port": {"number": 80}}},
                            },
                        ]
                    },
                }
            ],
        },
    }


def _backends(ingress: dict[str, Any]) -> list[str]:
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    return [path["backend"]["service"]["name"] for path in paths]


def _headers(**conditions: StringMatch) -> MatchRequest:
    return MatchRequest(headers=conditions)


def test_the_canary_ingress_copies_the_users_with_the_canary_service_as_backend() -> None:
    main = _main(**{LAST_APPLIED: "{}", f"{CANARY}-weight": "40", "team": "a"})
    built = canary_ingress(main, ROUTE, annotations=canary_annotations(10, {}))
    assert built["apiVersion"] == "networking.k8s.io/v1"
    assert built["metadata"]["name"] == "podinfo-canary"
    assert built["metadata"]["labels"] == {"app": "podinfo"}
    assert built["metadata"]["ownerReferences"] == [OWNER.owner_reference()]
    assert "resourceVersion" not in built["metadata"]
    assert built["metadata"]["annotations"] == {
        "kubernetes.io/ingress.class": "nginx",
        "team": "a",
        **GITOPS_OPT_OUT,
        CANARY: "true",
        WEIGHT: "10",
    }
    assert built["spec"]["ingressClassName"] == "nginx"
    assert _backends(built) == ["podinfo-canary", "cdn"]
    assert _backends(main) == ["podinfo", "cdn"]  # the user's Ingress is left as it was


def test_an_ingress_without_the_apex_backend_is_refused_naming_it() -> None:
    with pytest.raises(RouteError, match=r"Ingress test/podinfo \(spec.ingressRef\) has no path"):
        canary_ingress(_main(), RouteRef("test", "frontend", OWNER), annotations={})


@pytest.mark.parametrize(
    ("weight", "matches", "expected"),
    [
        (0, {}, {CANARY: "false"}),
        (30, {}, {CANARY: "true", WEIGHT: "30"}),
        (100, {}, {CANARY: "true", WEIGHT: "100"}),
        (0, {BY_HEADER: "x-user"}, {CANARY: "false"}),
        (100, {BY_HEADER: "x-user"}, {CANARY: "true", BY_HEADER: "x-user"}),
    ],
)
def test_canary_annotations(weight: int, matches: dict[str, str], expected: dict[str, str]) -> None:
    assert canary_annotations(weight, matches) == expected


@pytest.mark.parametrize(
    ("matches", "expected"),
    [
        (
            [_headers(**{"x-user": StringMatch(exact="insider")})],
            {BY_HEADER: "x-user", BY_HEADER_VALUE: "insider"},
        ),
        (
            [_headers(**{"x-user": StringMatch(regex="^in.*")})],
            {BY_HEADER: "x-user", BY_HEADER_PATTERN: "^in.*"},
        ),
        (
            [_headers(**{"x-user": StringMatch(prefix="in.")})],
            {BY_HEADER: "x-user", BY_HEADER_PATTERN: r"^in\..*"},
        ),
        (
            [_headers(**{"x-user": StringMatch(suffix="er")})],
            {BY_HEADER: "x-user", BY_HEADER_PATTERN: ".*er$"},
        ),
        ([_headers(cookie=StringMatch(exact="canary"))], {BY_COOKIE: "canary"}),
        (
            [
                _headers(**{"x-canary": StringMatch(exact="insider")}),
                _headers(cookie=StringMatch(exact="canary")),
            ],
            {BY_HEADER: "x-canary", BY_HEADER_VALUE: "insider", BY_COOKIE: "canary"},
        ),
    ],
)
def test_match_annotations(matches: list[MatchRequest], expected: dict[str, str]) -> None:
    assert match_annotations(matches) == expected


@pytest.mark.parametrize(
    ("matches", "message"),
    [
        (
            [MatchRequest(query_params={"beta": StringMatch(exact="1")})],
            r"spec.analysis.match\[0\].queryParams: provider nginx matches headers only",
        ),
        (
            [_headers(a=StringMatch(exact="1"), b=StringMatch(exact="2"))],
            r"spec.analysis.match\[0\]: provider nginx needs exactly one header",
        ),
        (
            [_headers(a=StringMatch(exact="1")), _headers(b=StringMatch(exact="2"))],
            r"spec.analysis.match\[1\]: provider nginx routes by one header and one cookie",
        ),
        (
            [_headers(cookie=StringMatch(regex="can.*"))],
            r"spec.analysis.match\[0\].headers.cookie: provider nginx matches a cookie by its name",
        ),
    ],
)
def test_what_ingress_nginx_cannot_match_is_refused_naming_the_field(
    matches: list[MatchRequest], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        match_annotations(matches)


def _annotated(**annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": "podinfo-canary", "annotations": annotations}}


@pytest.mark.parametrize(
    ("annotations", "ab", "weights"),
    [
        ({}, False, (100, 0)),
        ({CANARY: "false", WEIGHT: "50"}, False, (100, 0)),  # not a canary for ingress-nginx
        ({CANARY: "true", WEIGHT: "35"}, False, (65, 35)),
        ({CANARY: "true"}, False, (100, 0)),
        ({CANARY: "true", BY_HEADER: "x-user"}, True, (0, 100)),
        ({CANARY: "true", BY_COOKIE: "canary"}, True, (0, 100)),
        ({CANARY: "true", BY_COOKIE: "canary"}, False, (100, 0)),
    ],
)
def test_ingress_weights(
    annotations: dict[str, str], *, ab: bool, weights: tuple[int, int]
) -> None:
    assert ingress_weights(_annotated(**annotations), ab=ab) == weights


@pytest.mark.parametrize("weight", ["abc", "101", "-1"])
def test_a_weight_that_is_not_a_percentage_is_malformed(weight: str) -> None:
    with pytest.raises(RouteError, match="not a percentage"):
        ingress_weights(_annotated(**{CANARY: "true", WEIGHT: weight}), ab=False)


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (None, "spec.ingressRef is required with provider nginx"),
        ({"name": "podinfo", "kind": "HTTPProxy"}, "spec.ingressRef.kind must be Ingress"),
        ({"kind": "Ingress"}, "spec.ingressRef must be an object with a name"),
    ],
)
async def test_the_router_needs_an_ingress_ref(ref: dict[str, Any] | None, message: str) -> None:
    fields = {} if ref is None else {"spec.ingressRef": ref}
    async with ApiClient(Configuration()) as api:
        with pytest.raises(ValueError, match=message):
            router_for("nginx", api, RouteSettings(provider="nginx", fields=fields))


async def test_router_for_builds_the_nginx_router_from_its_settings() -> None:
    settings = RouteSettings(
        provider="nginx",
        matches=(_headers(**{"x-user": StringMatch(exact="insider")}),),
        fields={
            "spec.ingressRef": {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "name": "web",
            }
        },
    )
    async with ApiClient(Configuration()) as api:
        router = router_for("nginx", api, settings)
    assert isinstance(router, NginxRouter)
    assert router.name == "web-canary"
    assert router.settings.matches == {BY_HEADER: "x-user", BY_HEADER_VALUE: "insider"}


def test_the_nginx_router_kind() -> None:
    kind = router_kind("nginx")
    assert kind.route is None  # the canary Ingress is named after the user's Ingress
    assert kind.applies == frozenset({"spec.ingressRef"})
    assert kind.can_match
    assert not kind.match_query_params
    assert not kind.can_mirror
    assert not kind.sticky


async def test_mirroring_is_refused() -> None:
    async with ApiClient(Configuration()) as api:
        router = router_for(
            "nginx",
            api,
            RouteSettings(provider="nginx", fields={"spec.ingressRef": {"name": "podinfo"}}),
        )
        with pytest.raises(ValueError, match="provider nginx cannot mirror"):
            await router.set_weights(ROUTE, primary=50, canary=50, mirror=True)


def _example_canary(**analysis: Any) -> Canary:
    manifest = yaml.safe_load((EXAMPLES / "canary-ab.yaml").read_text())
    manifest["metadata"]["namespace"] = "test"
    manifest["spec"]["analysis"].update(analysis)
    return Canary.model_validate(manifest)


def test_the_examples_are_supported() -> None:
    assert unsupported_fields(_example_canary(), default_provider="linkerd") == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"match": [{"headers": {"a": {"exact": "1"}, "b": {"exact": "2"}}}]},
            "spec.analysis.match[0]: provider nginx needs exactly one header",
        ),
        (
            {"match": [{"queryParams": {"beta": {"exact": "1"}}}]},
            "spec.analysis.match[].queryParams with provider nginx (headers only)",
        ),
        ({"mirror": True, "match": []}, "spec.analysis.mirror with provider nginx"),
    ],
)
def test_the_controller_and_canary_check_refuse_what_nginx_cannot_route(
    change: dict[str, Any], message: str
) -> None:
    """The refusals `canary check` prints and the controller shows as Ready=False, once each."""
    found = unsupported_fields(_example_canary(**change), default_provider="linkerd")
    assert len(found) == 1, found
    assert found[0].startswith(message), found


async def test_the_annotations_prefix_is_the_controllers_for_every_canary_annotation() -> None:
    """Flagger's -ingress-annotations-prefix: ingress-nginx run with another --annotations-prefix
    reads the canary annotations under it; canary annotations another writer left under that
    prefix are replaced, and the default prefix's are the user's (copied as they are)."""
    settings = RouteSettings(
        provider="nginx",
        matches=(_headers(**{"x-user": StringMatch(prefix="insider")}),),
        fields={"spec.ingressRef": {"name": "podinfo"}},
        controller=ControllerRouting(ingress_annotations_prefix="custom.nginx.example.com"),
    )
    async with ApiClient(Configuration()) as api:
        router = router_for("nginx", api, settings)
    assert isinstance(router, NginxRouter)
    keys = router.settings.keys
    assert router.settings.matches == {
        "custom.nginx.example.com/canary-by-header": "x-user",
        "custom.nginx.example.com/canary-by-header-pattern": "^insider.*",
    }
    main = _main(**{"custom.nginx.example.com/canary-weight": "30", CANARY: "true"})
    wanted = canary_annotations(100, router.settings.matches, keys=keys)
    ingress = canary_ingress(main, ROUTE, annotations=wanted, keys=keys)
    annotations = ingress["metadata"]["annotations"]
    assert "custom.nginx.example.com/canary-weight" not in annotations  # another writer's
    assert annotations["custom.nginx.example.com/canary"] == "true"
    assert annotations[CANARY] == "true"  # the user's, under a prefix this ingress-nginx ignores
    assert ingress_weights(ingress, ab=True, keys=keys) == (0, 100)
    weighted = canary_ingress(
        main, ROUTE, annotations=canary_annotations(40, {}, keys=keys), keys=keys
    )
    assert weighted["metadata"]["annotations"]["custom.nginx.example.com/canary-weight"] == "40"
    assert ingress_weights(weighted, ab=False, keys=keys) == (60, 40)
