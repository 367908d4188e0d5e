"""The NGINX router: a canary Ingress beside the user's, with ingress-nginx's canary annotations.

As Flagger does for `provider: nginx`: the Canary names the user's Ingress (`spec.ingressRef`),
whose paths send requests to the apex Service. The router writes `<ingressRef.name>-canary`
(networking.k8s.io/v1), a copy of that Ingress (spec, labels, annotations) whose backends to the
apex Service go to `<apex>-canary` instead, annotated for ingress-nginx:

* canary weights: `nginx.ingress.kubernetes.io/canary: "true"` and `canary-weight: "<percent>"`;
* A/B testing (`analysis.match`): `canary: "true"` and `canary-by-header` (with
  `canary-by-header-value` for an exact value, `canary-by-header-pattern` for a regular
  expression; prefixes and suffixes become one) and/or `canary-by-cookie` (the `cookie` header's
  exact value names the cookie; ingress-nginx sends requests whose cookie is `always`);
* no traffic (weight 0, between releases): `canary: "false"` and no other canary annotation.

The keys' prefix is the controller's `--ingress-annotations-prefix` (Flagger's
`-ingress-annotations-prefix`, default `nginx.ingress.kubernetes.io`), for an ingress-nginx run
with another `--annotations-prefix`.

ingress-nginx allows one header and one cookie per canary Ingress, each match entry being one
alternative: what it cannot express (two headers, a header and a cookie in one entry, a cookie
matched other than exactly, query parameters) is refused naming `spec.analysis.match`, where
Flagger would silently keep only the last header. The user's Ingress is never written.

An existing `<ingressRef.name>-canary` the user made (or Flagger did) is adopted: re-applied
with this Canary as its owner, and canary annotations left by another writer are removed. One
that another Canary controls is refused. The canary Ingress is named after the user's Ingress,
not the apex, so it is not the Canary's claimed route object (`RouterKind.route` is None); it is
owned by the Canary, so it is deleted with it and the user's Ingress then serves alone.

This module builds the object and applies it; it must not decide weights, nor touch Services.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from canary.api.analysis import MatchRequest, StringMatch
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import INGRESS, Reader
from canary.routers.base import RouteError, RouteRef, kept_weights
from canary.routers.ingress import (
    INGRESS_REF,
    IngressPair,
    backend_service,
    canary_metadata,
    ingress_ref,
    no_apex_backend,
    path_backends,
)
from canary.routers.kind import RouterKind
from canary.routers.settings import DEFAULT_INGRESS_ANNOTATIONS_PREFIX, RouteSettings

PROVIDER: Final = "nginx"
PREFIX: Final = DEFAULT_INGRESS_ANNOTATIONS_PREFIX


@dataclass(frozen=True)
class Keys:
    """ingress-nginx's canary annotation keys under `prefix`: its `--annotations-prefix`, which
    the controller's `--ingress-annotations-prefix` names (Flagger's flag, same default)."""

    prefix: str = PREFIX

    @property
    def canary(self) -> str:
        return f"{self.prefix}/canary"

    @property
    def weight(self) -> str:
        return f"{self.prefix}/canary-weight"

    @property
    def by_header(self) -> str:
        return f"{self.prefix}/canary-by-header"

    @property
    def by_header_value(self) -> str:
        return f"{self.prefix}/canary-by-header-value"

    @property
    def by_header_pattern(self) -> str:
        return f"{self.prefix}/canary-by-header-pattern"

    @property
    def by_cookie(self) -> str:
        return f"{self.prefix}/canary-by-cookie"

    def ours(self, key: str) -> bool:
        """Whether annotation `key` is a canary annotation under this prefix."""
        return key == self.canary or key.startswith(f"{self.canary}-")


DEFAULT_KEYS: Final = Keys()
# The keys under the default prefix, by name (the sandbox's ingress-nginx stand-in reads these).
CANARY: Final = DEFAULT_KEYS.canary
WEIGHT: Final = DEFAULT_KEYS.weight
BY_HEADER: Final = DEFAULT_KEYS.by_header
BY_HEADER_VALUE: Final = DEFAULT_KEYS.by_header_value
BY_HEADER_PATTERN: Final = DEFAULT_KEYS.by_header_pattern
BY_COOKIE: Final = DEFAULT_KEYS.by_cookie
MATCH: Final = "spec.analysis.match"


def _header_condition(name: str, match: StringMatch, keys: Keys) -> dict[str, str]:
    """The annotations matching header `name`: an exact value, or a regular expression."""
    if match.exact is not None:
        return {keys.by_header: name, keys.by_header_value: match.exact}
    if match.prefix is not None:
        pattern = f"^{re.escape(match.prefix)}.*"
    elif match.suffix is not None:
        pattern = f".*{re.escape(match.suffix)}$"
    else:
        pattern = match.regex or ""
    return {keys.by_header: name, keys.by_header_pattern: pattern}


def match_annotations(
    matches: Sequence[MatchRequest], *, keys: Keys = DEFAULT_KEYS
) -> dict[str, str]:
    """The A/B annotations of `analysis.match` (empty for none); ValueError naming the field
    for what ingress-nginx cannot express."""
    found: dict[str, str] = {}
    for index, request in enumerate(matches):
        where = f"{MATCH}[{index}]"
        if request.query_params:
            raise ValueError(f"{where}.queryParams: provider nginx matches headers only")
        if len(request.headers) != 1:
            raise ValueError(
                f"{where}: provider nginx needs exactly one header (or `cookie`) per match "
                "entry (ingress-nginx cannot require two conditions at once; list them as "
                "separate entries to route either)"
            )
        ((name, condition),) = request.headers.items()
        if name.lower() == "cookie":
            if condition.exact is None:
                raise ValueError(
                    f"{where}.headers.cookie: provider nginx matches a cookie by its name only "
                    "(exact: <cookie name>; requests whose cookie is `always` go to the canary)"
                )
            key, wanted = keys.by_cookie, {keys.by_cookie: condition.exact}
        else:
            key, wanted = keys.by_header, _header_condition(name, condition, keys)
        if key in found:
            raise ValueError(
                f"{where}: provider nginx routes by one header and one cookie at most "
                "(ingress-nginx has one canary-by-header and one canary-by-cookie per Ingress)"
            )
        found.update(wanted)
    return found


def canary_annotations(
    canary_weight: int, matches: Mapping[str, str], *, keys: Keys = DEFAULT_KEYS
) -> dict[str, str]:
    """The canary annotations at `canary_weight` percent (A/B when `matches` is not empty)."""
    if not 0 <= canary_weight <= 100:
        raise ValueError(f"canary weight must be a percentage, got {canary_weight}")
    if canary_weight == 0:
        return {keys.canary: "false"}
    if matches:
        return {keys.canary: "true", **matches}
    return {keys.canary: "true", keys.weight: str(canary_weight)}


def _backends_to(spec: dict[str, Any], old: str, new: str) -> int:
    """Point every path backend of Service `old` at `new`; how many there were."""
    changed = 0
    for paths, index in path_backends(spec):
        if backend_service(paths[index]) == old:
            paths[index]["backend"]["service"]["name"] = new
            changed += 1
    return changed


def canary_ingress(
    main: Mapping[str, Any],
    route: RouteRef,
    *,
    annotations: Mapping[str, str],
    keys: Keys = DEFAULT_KEYS,
) -> dict[str, Any]:
    """The canary Ingress copied from the user's Ingress `main`, with `annotations` (the
    canary ones). RouteError when no path of `main` sends requests to the apex Service."""
    spec = copy.deepcopy(dict(main.get("spec") or {}))
    if _backends_to(spec, route.apex, route.canary_service) == 0:
        raise no_apex_backend(main, route)
    metadata = canary_metadata(main, route, annotations=annotations, ours=keys.ours)
    return {
        "apiVersion": INGRESS.api_version,
        "kind": "Ingress",
        "metadata": metadata,
        "spec": spec,
    }


def ingress_weights(
    obj: Mapping[str, Any], *, ab: bool, keys: Keys = DEFAULT_KEYS
) -> tuple[int, int]:
    """(primary, canary) of a canary Ingress: (0, 100) for an A/B Ingress that routes by
    header or cookie, its weight otherwise; (100, 0) while it is not a canary for ingress-nginx.
    RouteError for a weight that is not a percentage."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if annotations.get(keys.canary) != "true":
        return (100, 0)
    if ab and (keys.by_header in annotations or keys.by_cookie in annotations):
        return (0, 100)
    raw = annotations.get(keys.weight, "0")
    try:
        weight = int(raw)
    except ValueError:
        weight = -1
    if not 0 <= weight <= 100:
        name = (obj.get("metadata") or {}).get("name")
        raise RouteError(f"Ingress {name} has {keys.weight}={raw!r}, not a percentage")
    return (100 - weight, weight)


@dataclass(frozen=True)
class NginxSettings:
    """The user's Ingress (`spec.ingressRef.name`), the A/B annotations, if any, and the
    annotation keys (the controller's --ingress-annotations-prefix)."""

    ingress: str
    matches: Mapping[str, str]
    keys: Keys = DEFAULT_KEYS


class NginxRouter:
    """The `Router` for ingress-nginx: writes `<ingress>-canary`, reads the user's Ingress."""

    def __init__(
        self, api: ApiClient, settings: NginxSettings, *, read: Reader | None = None
    ) -> None:
        self.settings = settings
        self._pair = IngressPair(api, read or resources.api_reader(api), settings.ingress)

    @property
    def name(self) -> str:
        return self._pair.canary_name

    async def reconcile(self, route: RouteRef) -> None:
        """Write the canary Ingress from the user's, keeping its weights (0 when it is new or
        unreadable: the primary is the safe side)."""
        existing = await self._pair.canary(route)
        weights = kept_weights(existing, self._weights)
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    def _weights(self, found: Mapping[str, Any]) -> tuple[int, int]:
        return ingress_weights(found, ab=bool(self.settings.matches), keys=self.settings.keys)

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        if mirror:
            raise ValueError("provider nginx cannot mirror requests (analysis.mirror)")
        if primary + canary != 100:
            raise ValueError(f"weights must sum to 100, got {primary}/{canary}")
        keys = self.settings.keys
        main = await self._pair.main(route)
        wanted = canary_annotations(canary, self.settings.matches, keys=keys)
        manifest = canary_ingress(main, route, annotations=wanted, keys=keys)
        await self._pair.write(route, manifest, ours=keys.ours)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._pair.canary(route)
        if existing is None:
            return None
        return self._weights(existing)


def nginx_settings(settings: RouteSettings) -> NginxSettings:
    """What the router needs of the Canary's `settings`; ValueError naming the field it cannot
    apply."""
    keys = Keys(settings.controller.ingress_annotations_prefix)
    return NginxSettings(
        ingress=ingress_ref(settings),
        matches=match_annotations(settings.matches, keys=keys),
        keys=keys,
    )


def build(api: ApiClient, read: Reader | None, settings: RouteSettings) -> NginxRouter:
    """The router of a Canary with `settings`; ValueError naming the field it cannot apply."""
    return NginxRouter(api, nginx_settings(settings), read=read)


ROUTER: Final = RouterKind(
    build=build,
    route=None,  # `<ingress>-canary` is named after the user's Ingress, not the apex
    applies=frozenset({INGRESS_REF}),
    can_match=True,
    match_query_params=False,
    validate=nginx_settings,
)
