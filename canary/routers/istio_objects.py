"""Istio's routing objects as Flagger writes them: a VirtualService and two DestinationRules.

For a Canary whose apex Service is `podinfo` the router writes (networking.istio.io/v1beta1):

* DestinationRules `podinfo-primary` and `podinfo-canary` (`host` the Service of that name,
  `trafficPolicy` the Canary's `service.trafficPolicy`);
* the VirtualService `podinfo`: `hosts` (`service.hosts` plus the apex Service unless `*` or
  the apex is there), `gateways` (`service.gateways`, or `mesh`), and one HTTP route that sends
  the requests of `service.match` to `podinfo-primary` and `podinfo-canary` by weight, with
  `service.rewrite` (less Flagger's Gateway API `type`), `service.timeout`, `service.retries`,
  `service.corsPolicy` and `service.headers`. With `service.delegation` the VirtualService is a
  delegate (no hosts, no gateways) that a root VirtualService of the user's points to.

A/B testing (`analysis.match`): the first route sends the matching requests (each condition
merged into each of `service.match`; headers, query parameters and `sourceLabels`, the labels of
the calling pods) by weight, a second sends the rest to the primary.
Mirroring copies the weighted route's requests to the canary (`mirror`, and
`mirrorPercentage` with `analysis.mirrorWeight`). Sticky sessions (`analysis.sessionAffinity`):
the canary destination of the weighted route answers with the session cookie, and a route named
`sticky-route` before it sends the cookie's holders to the canary alone (the cookies live on the
VirtualService's annotations, see sticky.py). With `service.appProtocol: tcp` the routes are TCP
routes (`service.match[].port` as L4 matches) and HTTP-only settings are refused.

Pure builders and readers: this module must not read or write the cluster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from canary.api.analysis import MatchRequest, StringMatch
from canary.api.canary import Headers
from canary.api.durations import parse_duration
from canary.routers.base import RouteError, RouteRef, as_percentages, route_metadata
from canary.routers.settings import RouteSettings
from canary.routers.sticky import Affinity, Cookies

API_VERSION: Final = "networking.istio.io/v1beta1"
VIRTUAL_SERVICE: Final = "VirtualService"
DESTINATION_RULE: Final = "DestinationRule"
MESH_GATEWAY: Final = "mesh"
STICKY_ROUTE: Final = "sticky-route"
# The spec of a VirtualService the user made before the Canary adopted it (JSON), restored when
# the Canary goes with revertOnDeletion (Flagger: flagger.kubernetes.io/original-configuration).
ORIGINAL_ANNOTATION: Final = "canary.dev/original-configuration"
PROVIDER: Final = "istio"

GATEWAYS: Final = "spec.service.gateways"
DELEGATION: Final = "spec.service.delegation"
TRAFFIC_POLICY: Final = "spec.service.trafficPolicy"
RETRIES: Final = "spec.service.retries"
MATCH: Final = "spec.service.match"
REWRITE: Final = "spec.service.rewrite"
CORS_POLICY: Final = "spec.service.corsPolicy"
APPLIED: Final = frozenset(
    {GATEWAYS, DELEGATION, TRAFFIC_POLICY, RETRIES, MATCH, REWRITE, CORS_POLICY}
)


@dataclass(frozen=True)
class IstioSettings:
    """What the VirtualService and DestinationRules need beyond the `RouteRef`, checked."""

    port: int = 80
    hosts: tuple[str, ...] = ()
    gateways: tuple[str, ...] = ()
    delegation: bool = False
    tcp: bool = False
    port_discovery: bool = False
    timeout: str | None = None  # an Istio duration ("30s", "1.5s")
    retries: Mapping[str, Any] | None = None
    cors_policy: Mapping[str, Any] | None = None
    rewrite: Mapping[str, Any] | None = None
    headers: Headers | None = None
    service_match: tuple[Mapping[str, Any], ...] = ()
    matches: tuple[MatchRequest, ...] = ()
    mirror_percent: int | None = None
    affinity: Affinity | None = None
    traffic_policy: Mapping[str, Any] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def _refuse(path: str, problem: str) -> ValueError:
    return ValueError(f"{path} {problem} (provider {PROVIDER})")


def _object(settings: RouteSettings, path: str) -> Mapping[str, Any] | None:
    value = settings.field_value(path)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _refuse(path, f"must be an object, got {type(value).__name__}")
    return value


def _objects(settings: RouteSettings, path: str) -> tuple[Mapping[str, Any], ...]:
    value = settings.field_value(path)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _refuse(path, "must be a list of objects")
    return tuple(value)


def _strings(settings: RouteSettings, path: str) -> tuple[str, ...]:
    value = settings.field_value(path)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _refuse(path, "must be a list of non-empty strings")
    return tuple(value)


def istio_duration(duration: str) -> str:
    """A Canary duration (`1m30s`, `500ms`) as a protobuf Duration in seconds (`90s`, `0.5s`)."""
    seconds = parse_duration(duration)
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{seconds:.3f}".rstrip("0") + "s"


def istio_settings(settings: RouteSettings) -> IstioSettings:
    """The Canary's routing settings for Istio; ValueError naming a field Istio cannot apply."""
    delegation = settings.field_value(DELEGATION)
    if delegation is not None and not isinstance(delegation, bool):
        raise _refuse(DELEGATION, "must be true or false")
    gateways = _strings(settings, GATEWAYS)
    if delegation and (settings.hosts or gateways):
        raise _refuse(
            DELEGATION,
            "cannot be set with spec.service.hosts or spec.service.gateways: a delegate "
            "VirtualService has neither (the root VirtualService holds them)",
        )
    if settings.gateway_refs:
        raise _refuse(
            "spec.service.gatewayRefs",
            "are Gateway API parentRefs; Istio gateways are named in spec.service.gateways",
        )
    rewrite = _object(settings, REWRITE)
    if rewrite is not None:
        rewrite = {k: v for k, v in rewrite.items() if k != "type"}  # Gateway API's only
    service_match = _objects(settings, MATCH)
    tcp = (settings.app_protocol or "").lower() == "tcp"
    istio = IstioSettings(
        port=settings.port,
        hosts=settings.hosts,
        gateways=gateways,
        delegation=bool(delegation),
        tcp=tcp,
        port_discovery=settings.port_discovery,
        timeout=istio_duration(settings.timeout) if settings.timeout else None,
        retries=_object(settings, RETRIES),
        cors_policy=_object(settings, CORS_POLICY),
        rewrite=rewrite,
        headers=settings.headers,
        service_match=service_match,
        matches=settings.matches,
        mirror_percent=settings.mirror_percent,
        affinity=settings.affinity,
        traffic_policy=_object(settings, TRAFFIC_POLICY),
        labels=settings.labels,
        annotations=settings.annotations,
    )
    if tcp:
        _check_tcp(istio)
    return istio


def _check_tcp(settings: IstioSettings) -> None:
    """What a TCP VirtualService cannot do (Flagger drops these silently)."""
    http_only = {
        "spec.analysis.match": bool(settings.matches),
        "spec.analysis.sessionAffinity": settings.affinity is not None,
        "spec.service.timeout": settings.timeout is not None,
        "spec.service.headers": settings.headers is not None,
        RETRIES: settings.retries is not None,
        CORS_POLICY: settings.cors_policy is not None,
        REWRITE: settings.rewrite is not None,
    }
    for path, set_ in http_only.items():
        if set_:
            raise _refuse(path, "applies to HTTP routes; spec.service.appProtocol is tcp")
    for index, match in enumerate(settings.service_match):
        if set(match) - {"port"}:
            raise _refuse(f"{MATCH}[{index}]", "may only hold a port when appProtocol is tcp")


def _check_weights(primary: int, canary: int) -> None:
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary} canary={canary}"
        )


def _metadata(name: str, route: RouteRef, settings: IstioSettings) -> dict[str, Any]:
    metadata = route_metadata(route)
    metadata["name"] = name
    if settings.labels:
        metadata["labels"] = dict(settings.labels)
    metadata["annotations"] = {**settings.annotations, **metadata["annotations"]}
    return metadata


def destination_rule(name: str, route: RouteRef, settings: IstioSettings) -> dict[str, Any]:
    """The DestinationRule of the Service `name` (`<apex>-primary` or `<apex>-canary`)."""
    spec: dict[str, Any] = {"host": name}
    if settings.traffic_policy is not None:
        spec["trafficPolicy"] = dict(settings.traffic_policy)
    metadata = route_metadata(route)
    metadata["name"] = name
    return {"apiVersion": API_VERSION, "kind": DESTINATION_RULE, "metadata": metadata, "spec": spec}


def _destination(settings: IstioSettings, host: str, weight: int) -> dict[str, Any]:
    destination: dict[str, Any] = {"host": host}
    # Flagger names the port behind an ingress gateway (or a delegate) when the Services have
    # several (portDiscovery): Istio then needs it to pick one.
    behind_gateway = bool(settings.gateways) and settings.gateways[0] != MESH_GATEWAY
    if settings.port_discovery and (behind_gateway or settings.delegation):
        destination["port"] = {"number": settings.port}
    return {"destination": destination, "weight": weight}


def _string_match(match: StringMatch) -> dict[str, str]:
    """Istio's StringMatch (exact, prefix, regex); a suffix becomes a (full-match) regex."""
    if match.exact is not None:
        return {"exact": match.exact}
    if match.prefix is not None:
        return {"prefix": match.prefix}
    if match.suffix is not None:
        return {"regex": f".*{re.escape(match.suffix)}"}
    return {"regex": match.regex or ""}


def _match_request(request: MatchRequest) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if request.headers:
        found["headers"] = {k: _string_match(v) for k, v in sorted(request.headers.items())}
    if request.query_params:
        found["queryParams"] = {
            k: _string_match(v) for k, v in sorted(request.query_params.items())
        }
    if request.source_labels:
        found["sourceLabels"] = dict(sorted(request.source_labels.items()))
    return found


def merge_matches(
    canary: Sequence[Mapping[str, Any]], defaults: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Each condition of `canary` within each of `defaults` (`service.match`), Flagger's
    mergeMatchConditions: the canary's headers, query parameters and source labels replace the
    default's."""
    if not defaults:
        return [dict(c) for c in canary]
    return [{**default, **condition} for condition in canary for default in defaults]


def _headers(headers: Headers | None) -> dict[str, Any] | None:
    if headers is None:
        return None
    found: dict[str, Any] = {}
    for name, operations in (("request", headers.request), ("response", headers.response)):
        if operations is None:
            continue
        ops: dict[str, Any] = {}
        if operations.set:
            ops["set"] = dict(sorted(operations.set.items()))
        if operations.add:
            ops["add"] = dict(sorted(operations.add.items()))
        if operations.remove:
            ops["remove"] = list(operations.remove)
        found[name] = ops
    return found or None


def _http_route(
    settings: IstioSettings, matches: Sequence[Mapping[str, Any]], destinations: list[Any]
) -> dict[str, Any]:
    """One HTTP route with the Canary's common settings, in Flagger's field order."""
    http: dict[str, Any] = {}
    if matches:
        http["match"] = [dict(m) for m in matches]
    if settings.rewrite:
        http["rewrite"] = dict(settings.rewrite)
    if settings.timeout is not None:
        http["timeout"] = settings.timeout
    if settings.retries is not None:
        http["retries"] = dict(settings.retries)
    if settings.cors_policy is not None:
        http["corsPolicy"] = dict(settings.cors_policy)
    headers = _headers(settings.headers)
    if headers is not None:
        http["headers"] = headers
    http["route"] = destinations
    return http


def _cookie_match(cookie: str) -> dict[str, Any]:
    name, value = cookie.split("=", 1)
    return {"headers": {"Cookie": {"regex": f".*{name}.*{value}.*"}}}


def _add_set_cookie(target: dict[str, Any], value: str) -> None:
    headers = target.setdefault("headers", {})
    response = headers.setdefault("response", {})
    response.setdefault("add", {})["Set-Cookie"] = value


def _sticky_routes(
    weighted: dict[str, Any], route: RouteRef, settings: IstioSettings, cookies: Cookies
) -> list[dict[str, Any]]:
    """The routes before the weighted one (whose destinations get their Set-Cookie here)."""
    affinity = settings.affinity
    assert affinity is not None  # noqa: S101 - only called with sessionAffinity
    primary, canary = weighted["route"]

    def pinned(cookie: str, *, to_canary: bool) -> dict[str, Any]:
        sticky = {k: v for k, v in weighted.items() if k not in ("route", "match")}
        sticky = {"name": STICKY_ROUTE, **json.loads(json.dumps(sticky))}
        sticky["match"] = merge_matches([_cookie_match(cookie)], settings.service_match)
        sticky["route"] = [
            _destination(settings, route.primary_service, 0 if to_canary else 100),
            _destination(settings, route.canary_service, 100 if to_canary else 0),
        ]
        return sticky

    found = []
    if cookies.canary is not None:
        max_age = affinity.max_age or 86400
        _add_set_cookie(canary, f"{cookies.canary}; Max-Age={max_age}{affinity.attributes}")
        found.append(pinned(cookies.canary, to_canary=True))
    if cookies.primary is not None:
        value = f"{cookies.primary}; Max-Age={affinity.interval_seconds}{affinity.attributes}"
        _add_set_cookie(primary, value)
        found.append(pinned(cookies.primary, to_canary=False))
    if cookies.previous is not None and cookies.canary is None:
        expire = pinned(cookies.previous, to_canary=False)
        _add_set_cookie(expire, f"{cookies.previous}; Max-Age=-1")
        found.append(expire)
    return found


def virtual_service(  # noqa: PLR0913 - keyword-only: the weights, the mirror, the cookies
    route: RouteRef,
    settings: IstioSettings,
    *,
    primary_weight: int,
    canary_weight: int,
    mirror: bool = False,
    cookies: Cookies | None = None,
    original: str | None = None,
) -> dict[str, Any]:
    """The full VirtualService for `route` at `primary_weight`/`canary_weight` percent.

    `original` is set for a VirtualService the user made and the Canary adopted: its spec as it
    was (JSON), kept on it for revertOnDeletion; such an object gets no owner reference, so
    deleting the Canary never deletes it.
    """
    _check_weights(primary_weight, canary_weight)
    metadata = _metadata(route.apex, route, settings)
    hosts = list(settings.hosts)
    if route.apex not in hosts and "*" not in hosts:
        hosts.append(route.apex)
    gateways = list(settings.gateways) or [MESH_GATEWAY]
    if settings.delegation:
        hosts, gateways = [], []
    weighted_to = [
        _destination(settings, route.primary_service, primary_weight),
        _destination(settings, route.canary_service, canary_weight),
    ]
    spec: dict[str, Any] = {"hosts": hosts, "gateways": gateways}
    if settings.tcp:
        l4 = [{"port": m["port"]} for m in settings.service_match if "port" in m]
        tcp: dict[str, Any] = {"route": weighted_to}
        if l4:
            tcp = {"match": l4, **tcp}
        spec["tcp"] = [tcp]
    elif settings.matches:
        conditions = [_match_request(m) for m in settings.matches]
        merged = merge_matches(conditions, settings.service_match)
        weighted = _http_route(settings, merged, weighted_to)
        rest = [_destination(settings, route.primary_service, 100)]
        spec["http"] = [weighted, _http_route(settings, settings.service_match, rest)]
    else:
        weighted = _http_route(settings, settings.service_match, weighted_to)
        sticky = []
        if settings.affinity is not None and cookies is not None:
            sticky = _sticky_routes(weighted, route, settings, cookies)
            metadata["annotations"].update(cookies.annotations())
        spec["http"] = [*sticky, weighted]
    if mirror and not settings.tcp:
        weighted = spec["http"][-1] if not settings.matches else spec["http"][0]
        weighted["mirror"] = {"host": route.canary_service}
        if settings.mirror_percent:
            weighted["mirrorPercentage"] = {"value": float(settings.mirror_percent)}
    if original is not None:
        metadata["annotations"][ORIGINAL_ANNOTATION] = original
        metadata.pop("ownerReferences", None)
    return {"apiVersion": API_VERSION, "kind": VIRTUAL_SERVICE, "metadata": metadata, "spec": spec}


def _host_name(host: object, namespace: str) -> str:
    """A destination host as the name of a Service of `namespace` when it is one (`podinfo`,
    `podinfo.<namespace>.svc.cluster.local`), else as written."""
    text = str(host or "")
    return text.removesuffix(f".{namespace}.svc.cluster.local")


def virtual_service_weights(vs: Mapping[str, Any], route: RouteRef) -> tuple[int, int]:
    """(primary, canary) in whole percent, from the last HTTP (or TCP) route whose destinations
    are exactly the primary and the canary Services (sticky routes come before it, A/B's
    fallback after it has the primary only). RouteError when none does."""
    where = f"VirtualService {route.namespace}/{route.apex}"
    spec = vs.get("spec") or {}
    wanted = {route.primary_service, route.canary_service}
    for entry in reversed([*(spec.get("tcp") or []), *(spec.get("http") or [])]):
        if entry.get("name") == STICKY_ROUTE:
            continue
        destinations = entry.get("route") or []
        weights: dict[str, Decimal] = {}
        for destination in destinations:
            host = _host_name((destination.get("destination") or {}).get("host"), route.namespace)
            weight = destination.get("weight", 0)
            if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
                raise RouteError(f"{where}: destination {host} has weight {weight!r}")
            weights[host] = Decimal(weight)
        if len(destinations) != 2 or set(weights) != wanted:
            continue
        primary, canary = weights[route.primary_service], weights[route.canary_service]
        if primary + canary == 0:
            raise RouteError(f"{where} routes to neither {' nor '.join(sorted(wanted))}")
        return as_percentages(primary, canary)
    raise RouteError(
        f"{where} has no route to exactly {route.primary_service} and {route.canary_service}"
    )
