"""The Contour router: one HTTPProxy (projectcontour.io/v1) per Canary, as Flagger writes it.

The HTTPProxy is named after the apex Service and has no virtual host: like Flagger's, it is a
child proxy that the user's root HTTPProxy includes (`includes: [{name: <apex>}]`). Its route
matches the path prefix (`/`, or `service.match[0].uri.prefix`) and sends requests to
`<apex>-primary` and `<apex>-canary` by weight; each Service entry sets the `l5d-dst-override`
header, so the split also works when Contour's Envoy runs inside a Linkerd mesh. Before a Canary
with `revertOnDeletion` goes, `release` points every route at the apex Service and drops the
owner reference, so the root HTTPProxy that includes this one keeps working (Flagger lets
garbage collection delete it, and the root's include then leads nowhere).
`service.timeout` becomes the route's `timeoutPolicy` (`response`, and an idle timeout of 5m)
and `service.retries` its `retryPolicy` (`count` = attempts, `perTryTimeout`, and `retryOn` when
every condition is one Contour knows), as Flagger sets them. `service.headers` set and remove
request and response headers on the route (Contour's HeadersPolicy cannot add a header).

For A/B testing (`analysis.match`) each match is one route whose header and query-parameter
conditions must all hold, sent by weight; a last route sends every other request to the
primary. Flagger puts the headers of every match into one route (so all matches must hold at
once) and turns prefix and suffix matches into `contains`; here matches are alternatives, as
in Flagger's other routers, and prefixes and suffixes become anchored regular expressions.

With the controller's `--ingress-class` (Flagger's `-ingress-class`) the HTTPProxy carries that
class twice: the annotation `projectcontour.io/ingress.class` that Flagger writes, and
`spec.ingressClassName`, which Contour reads since it deprecated the annotation; so a Contour
run with `--ingress-class-name` serves it. Flagger sets the annotation only on creation; here it
is applied with the rest of the object, so a changed flag reaches existing HTTPProxies.

Contour has no request mirroring in Flagger and no sticky sessions: the controller refuses
`analysis.mirror` and `analysis.sessionAffinity` with this provider (`ROUTER`'s capabilities).

This module builds the object and applies it; it must not decide weights, nor touch Services.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from canary.api.analysis import MatchRequest, StringMatch
from canary.api.canary import HeaderOperations, Headers
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.routers.base import (
    RouteError,
    Router,
    RouteRef,
    as_percentages,
    kept_weights,
    route_metadata,
)
from canary.routers.kind import RouterKind
from canary.routers.settings import RouteSettings

PROVIDER: Final = "contour"
API_VERSION: Final = "projectcontour.io/v1"
KIND: Final = "HTTPProxy"
HTTP_PROXY: Final = resources.HTTP_PROXY
IDLE_TIMEOUT: Final = "5m"  # Flagger's, with every response timeout
LINKERD_HEADER: Final = "l5d-dst-override"
# The class of Contour that serves the HTTPProxy (--ingress-class): Flagger's annotation, which
# older Contours read, and the field that Contour reads since it deprecated the annotation.
CLASS_ANNOTATION: Final = "projectcontour.io/ingress.class"
# Contour's RetryOn enum (projectcontour.io/v1 RetryPolicy.retryOn).
RETRY_ON: Final = frozenset(
    {
        "5xx",
        "gateway-error",
        "reset",
        "reset-before-request",
        "connect-failure",
        "envoy-ratelimited",
        "retriable-4xx",
        "refused-stream",
        "retriable-status-codes",
        "retriable-headers",
        "http3-post-connect-failure",
        "cancelled",
        "deadline-exceeded",
        "internal",
        "resource-exhausted",
        "unavailable",
    }
)
# The provider-specific fields (Flagger's, by path) this router applies.
APPLIES: Final = frozenset({"spec.service.retries", "spec.service.match"})


@dataclass(frozen=True)
class Retries:
    """`service.retries` as Contour takes it."""

    attempts: int
    per_try_timeout: str | None = None
    retry_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContourSettings:
    """What an HTTPProxy needs beyond the `RouteRef`, checked."""

    port: int
    prefix: str = "/"
    timeout: str | None = None
    retries: Retries | None = None
    matches: tuple[MatchRequest, ...] = ()
    headers: Headers | None = None
    ingress_class: str = ""  # the controller's --ingress-class


def _refused(path: str, why: str) -> ValueError:
    return ValueError(f"{path} with provider {PROVIDER}: {why}")


def _prefix(value: Any) -> str:
    """The path prefix from `service.match` (Flagger reads `match[0].uri.prefix` only)."""
    path = "spec.service.match"
    if value is None:
        return "/"
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], Mapping):
        raise _refused(path, "give at most one entry, `- uri: {prefix: /path}`")
    entry = value[0]
    extra = sorted(set(entry) - {"uri", "name"})
    uri = entry.get("uri")
    if extra or not isinstance(uri, Mapping) or set(uri) != {"prefix"}:
        raise _refused(path, "only uri.prefix applies (Contour routes by path prefix here)")
    prefix = uri["prefix"]
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise _refused(f"{path}[0].uri.prefix", "must be a path starting with /")
    return prefix


def _retries(value: Any) -> Retries | None:
    path = "spec.service.retries"
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _refused(path, "must be an object (attempts, perTryTimeout, retryOn)")
    attempts = value.get("attempts", 0)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 0:
        raise _refused(f"{path}.attempts", f"must be a whole number >= 0, got {attempts!r}")
    per_try = value.get("perTryTimeout")
    if per_try is not None and not isinstance(per_try, str):
        raise _refused(f"{path}.perTryTimeout", "must be a duration such as 2s")
    retry_on = value.get("retryOn")
    conditions: tuple[str, ...] = ()
    if retry_on is not None:
        if not isinstance(retry_on, str):
            raise _refused(f"{path}.retryOn", "must be a comma-separated list of conditions")
        conditions = tuple(part.strip() for part in retry_on.split(",") if part.strip())
        unknown = [c for c in conditions if c not in RETRY_ON]
        if unknown:
            raise _refused(
                f"{path}.retryOn",
                f"Contour cannot retry on {', '.join(unknown)}; it knows "
                + ", ".join(sorted(RETRY_ON)),
            )
    return Retries(attempts=attempts, per_try_timeout=per_try, retry_on=conditions)


def _check_headers(headers: Headers | None) -> None:
    if headers is None:
        return
    for side, operations in (("request", headers.request), ("response", headers.response)):
        if operations is not None and operations.add:
            raise _refused(
                f"spec.service.headers.{side}.add",
                "Contour's headers policy can only set or remove headers; use set",
            )


def contour_settings(settings: RouteSettings) -> ContourSettings:
    """The Canary's routing settings for an HTTPProxy; ValueError naming a field that cannot
    apply."""
    _check_headers(settings.headers)
    for index, match in enumerate(settings.matches):
        if not match.headers and not match.query_params:
            raise _refused(f"spec.analysis.match[{index}]", "give headers or queryParams")
    return ContourSettings(
        port=settings.port,
        prefix=_prefix(settings.field_value("spec.service.match")),
        timeout=settings.timeout,
        retries=_retries(settings.field_value("spec.service.retries")),
        matches=settings.matches,
        headers=settings.headers,
        ingress_class=settings.controller.ingress_class,
    )


def _regex_of(match: StringMatch) -> str | None:
    """A prefix, suffix or regex condition as an (RE2, whole-value) regular expression."""
    if match.prefix is not None:
        return f"^{re.escape(match.prefix)}.*"
    if match.suffix is not None:
        return f".*{re.escape(match.suffix)}$"
    return match.regex


def _header_condition(name: str, match: StringMatch) -> dict[str, Any]:
    if match.exact is not None:
        return {"header": {"name": name, "exact": match.exact}}
    return {"header": {"name": name, "regex": _regex_of(match)}}


def _query_condition(name: str, match: StringMatch) -> dict[str, Any]:
    condition: dict[str, Any] = {"name": name}
    for key in ("exact", "prefix", "suffix", "regex"):
        value = getattr(match, key)
        if value is not None:
            condition[key] = value
    return {"queryParameter": condition}


def _conditions(settings: ContourSettings, match: MatchRequest | None) -> list[dict[str, Any]]:
    conditions: list[dict[str, Any]] = [{"prefix": settings.prefix}]
    if match is not None:
        conditions += [_header_condition(k, v) for k, v in sorted(match.headers.items())]
        conditions += [_query_condition(k, v) for k, v in sorted(match.query_params.items())]
    return conditions


def _headers_policy(operations: HeaderOperations | None) -> dict[str, Any] | None:
    if operations is None or not (operations.set or operations.remove):
        return None
    policy: dict[str, Any] = {}
    if operations.set:
        policy["set"] = [{"name": k, "value": v} for k, v in sorted(operations.set.items())]
    if operations.remove:
        policy["remove"] = list(operations.remove)
    return policy


def _service(route: RouteRef, service: str, port: Any, weight: int) -> dict[str, Any]:
    override = f"{service}.{route.namespace}.svc.cluster.local:{port}"
    return {
        "name": service,
        "port": port,
        "weight": weight,
        "requestHeadersPolicy": {"set": [{"name": LINKERD_HEADER, "value": override}]},
    }


def _route(
    route: RouteRef,
    settings: ContourSettings,
    *,
    match: MatchRequest | None,
    primary: int,
    canary: int,
) -> dict[str, Any]:
    entry: dict[str, Any] = {"conditions": _conditions(settings, match)}
    if settings.timeout is not None:
        entry["timeoutPolicy"] = {"response": settings.timeout, "idle": IDLE_TIMEOUT}
    if settings.retries is not None:
        policy: dict[str, Any] = {"count": settings.retries.attempts}
        if settings.retries.per_try_timeout:
            policy["perTryTimeout"] = settings.retries.per_try_timeout
        if settings.retries.retry_on:
            policy["retryOn"] = list(settings.retries.retry_on)
        entry["retryPolicy"] = policy
    headers = settings.headers
    for key, operations in (
        ("requestHeadersPolicy", headers.request if headers else None),
        ("responseHeadersPolicy", headers.response if headers else None),
    ):
        policy_of = _headers_policy(operations)
        if policy_of is not None:
            entry[key] = policy_of
    # Flagger's order: primary first, then canary.
    entry["services"] = [
        _service(route, route.primary_service, settings.port, primary),
        _service(route, route.canary_service, settings.port, canary),
    ]
    return entry


def _check_weights(primary: int, canary: int) -> None:
    if not (0 <= primary <= 100 and 0 <= canary <= 100 and primary + canary == 100):
        raise ValueError(
            f"weights must be percentages summing to 100, got primary={primary} canary={canary}"
        )


def http_proxy(
    route: RouteRef, settings: ContourSettings, *, primary_weight: int, canary_weight: int
) -> dict[str, Any]:
    """The full HTTPProxy manifest for `route` at `primary_weight`/`canary_weight` percent.

    Without matches one route sends every request by weight; with them (A/B) one route per
    match sends its requests by weight, and a last route sends the rest to the primary.
    """
    _check_weights(primary_weight, canary_weight)
    if not 1 <= settings.port <= 65535:
        raise ValueError(f"port must be between 1 and 65535, got {settings.port}")
    weights = {"primary": primary_weight, "canary": canary_weight}
    if settings.matches:
        routes = [_route(route, settings, match=m, **weights) for m in settings.matches]
        routes.append(_route(route, settings, match=None, primary=100, canary=0))
    else:
        routes = [_route(route, settings, match=None, **weights)]
    metadata = route_metadata(route)
    spec: dict[str, Any] = {"routes": routes}
    if settings.ingress_class:
        metadata["annotations"][CLASS_ANNOTATION] = settings.ingress_class
        spec["ingressClassName"] = settings.ingress_class
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


def _weight(service: Mapping[str, Any], where: str) -> Decimal:
    value = service.get("weight", 0)  # omitted: 0 (Contour's omitempty)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RouteError(f"{where}: service {service.get('name')} has weight {value!r}")
    return Decimal(value)


def proxy_weights(proxy: Mapping[str, Any], route: RouteRef) -> tuple[int, int]:
    """(primary, canary) in whole percent of their sum, from the first route that sends to
    exactly the primary and the canary Services (the weighted one: A/B's fallback comes
    last). RouteError when no route does."""
    where = f"HTTPProxy {route.namespace}/{route.apex}"
    wanted = {route.primary_service, route.canary_service}
    for entry in (proxy.get("spec") or {}).get("routes") or []:
        services = [s for s in entry.get("services") or [] if not s.get("mirror")]
        weights = {s.get("name"): _weight(s, where) for s in services}
        if len(services) != 2 or set(weights) != wanted:
            continue
        primary, canary = weights[route.primary_service], weights[route.canary_service]
        if primary + canary == 0:
            raise RouteError(f"{where}: both {' and '.join(sorted(wanted))} have weight 0")
        return as_percentages(primary, canary)
    raise RouteError(
        f"{where} has no route to exactly {route.primary_service} and {route.canary_service}"
    )


class ContourRouter:
    """The `Router` writing one HTTPProxy per Canary."""

    def __init__(
        self,
        api: ApiClient,
        settings: ContourSettings,
        *,
        read: resources.Reader | None = None,
    ) -> None:
        self._api = api
        self.settings = settings
        self._reader = read or resources.api_reader(api)

    async def _read(self, route: RouteRef) -> dict[str, Any] | None:
        return await self._reader(HTTP_PROXY, route.namespace, route.apex)

    async def reconcile(self, route: RouteRef) -> None:
        """Create the HTTPProxy at 100/0 if absent; otherwise re-apply it with its weights
        (one that no longer splits between the two Services is repaired to 100/0)."""
        existing = await self._read(route)
        weights = kept_weights(existing, lambda found: proxy_weights(found, route))
        await self.set_weights(route, primary=weights[0], canary=weights[1])

    async def set_weights(
        self, route: RouteRef, *, primary: int, canary: int, mirror: bool = False
    ) -> None:
        if mirror:
            raise ValueError(f"provider {PROVIDER} does not mirror requests (analysis.mirror)")
        manifest = http_proxy(route, self.settings, primary_weight=primary, canary_weight=canary)
        await resources.apply(self._api, manifest)

    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        existing = await self._read(route)
        return None if existing is None else proxy_weights(existing, route)


def _held_by_another(proxy: Mapping[str, Any], owner_uid: str) -> bool:
    references = (proxy.get("metadata") or {}).get("ownerReferences") or []
    return any(
        r.get("kind") == "Canary" and r.get("controller") and r.get("uid") != owner_uid
        for r in references
    )


def release_patch(proxy: Mapping[str, Any], route: RouteRef) -> dict[str, Any] | None:
    """The merge patch that hands the HTTPProxy back (revertOnDeletion): every route sends to
    the apex Service (which then selects the target's pods) instead of the primary and the
    canary, and the Canary's owner reference goes, so the proxy outlives the Canary and the root
    HTTPProxy that includes it keeps working. None when there is nothing to change."""
    owner_uid = route.owner.uid if route.owner is not None else ""
    references = (proxy.get("metadata") or {}).get("ownerReferences") or []
    kept = [dict(r) for r in references if r.get("uid") != owner_uid]
    ours = {route.primary_service, route.canary_service}
    routes, changed = [], False
    for entry in (proxy.get("spec") or {}).get("routes") or []:
        services = entry.get("services") or []
        replaced = [s for s in services if s.get("name") in ours]
        released = dict(entry)
        if replaced:
            port = replaced[0].get("port")
            others = [s for s in services if s.get("name") not in ours]
            released["services"] = [_service(route, route.apex, port, 100), *others]
            changed = True
        routes.append(released)
    if not changed and len(kept) == len(references):
        return None
    return {"metadata": {"ownerReferences": kept}, "spec": {"routes": routes}}


async def release(api: ApiClient, route: RouteRef) -> str:
    """Hand the HTTPProxy back before the Canary is deleted; says what was done."""
    existing = await resources.get(api, HTTP_PROXY, route.apex, namespace=route.namespace)
    owner_uid = route.owner.uid if route.owner is not None else ""
    if existing is None or _held_by_another(existing, owner_uid):
        return ""
    patch = release_patch(existing, route)
    if patch is None:
        return ""
    await resources.merge_patch(api, HTTP_PROXY, route.apex, namespace=route.namespace, patch=patch)
    return f"HTTPProxy {route.namespace}/{route.apex} sends all traffic to Service {route.apex}"


def build(api: ApiClient, read: resources.Reader | None, settings: RouteSettings) -> Router:
    """The registry's builder: ValueError naming a field that cannot apply."""
    return ContourRouter(api, contour_settings(settings), read=read)


# What the registry lists for provider `contour`.
ROUTER: Final = RouterKind(
    build,
    HTTP_PROXY,
    APPLIES,
    can_match=True,
    release=release,
    generic=frozenset({"spec.service.timeout", "spec.service.headers"}),
)
