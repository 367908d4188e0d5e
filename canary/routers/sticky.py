"""Sticky canary sessions on an HTTPRoute (Flagger's `analysis.sessionAffinity` for Gateway API).

While the canary has weight, the weighted rule's canary backend answers with
`Set-Cookie: <cookieName>=<value>; Max-Age=<maxAge>...`, and a rule placed before it sends every
request that carries that cookie to the canary alone; with `primaryCookieName`, the primary
backend sets a cookie lasting one analysis interval and a rule keeps its holders on the primary.
When the weight is back at 0, the last cookie becomes the previous one: a rule answers requests
that carry it with the same cookie at `Max-Age=-1`, so browsers drop it. Flagger keeps the
cookies in the Canary's status; here they live on the HTTPRoute itself (two annotations), so the
route object alone says which cookie is in force and a restart changes nothing.

Builders only: this module must not read or write the cluster.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

CURRENT_ANNOTATION: Final = "canary.dev/session-affinity-cookie"
PREVIOUS_ANNOTATION: Final = "canary.dev/previous-session-affinity-cookie"
PRIMARY_ANNOTATION: Final = "canary.dev/primary-session-affinity-cookie"
_STORED: Final = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+=[0-9a-z]+$")


@dataclass(frozen=True)
class Affinity:
    """`analysis.sessionAffinity`, and the analysis interval (the primary cookie's lifetime)."""

    cookie_name: str
    interval_seconds: int
    primary_cookie_name: str | None = None
    max_age: int = 86400
    attributes: str = ""  # "; Domain=...; Path=...; HttpOnly; ..." as given


@dataclass(frozen=True)
class Cookies:
    """The `name=value` cookies in force on a route (each None when there is none)."""

    canary: str | None = None
    primary: str | None = None
    previous: str | None = None

    def annotations(self) -> dict[str, str]:
        found = {
            CURRENT_ANNOTATION: self.canary,
            PRIMARY_ANNOTATION: self.primary,
            PREVIOUS_ANNOTATION: self.previous,
        }
        return {key: value for key, value in found.items() if value is not None}


def cookie_attributes(  # noqa: PLR0913 - keyword-only: one per Set-Cookie attribute
    *,
    domain: str | None = None,
    path: str | None = None,
    http_only: bool = False,
    secure: bool = False,
    same_site: str | None = None,
    partitioned: bool = False,
) -> str:
    """The Set-Cookie attributes after Max-Age, each with its leading "; "."""
    parts = [f"Domain={domain}"] if domain else []
    parts += [f"Path={path}"] if path else []
    parts += ["HttpOnly"] if http_only else []
    parts += ["Secure"] if secure else []
    parts += [f"SameSite={same_site}"] if same_site else []
    parts += ["Partitioned"] if partitioned else []
    return "".join(f"; {part}" for part in parts)


def _stored(annotations: Mapping[str, Any], key: str) -> str | None:
    value = annotations.get(key)
    return value if isinstance(value, str) and _STORED.match(value) else None


def _new(name: str) -> str:
    return f"{name}={secrets.token_hex(8)}"


def cookies_for(
    existing: Mapping[str, Any] | None, affinity: Affinity, *, canary_weight: int
) -> Cookies:
    """The cookies the route should carry at `canary_weight`, from those of the `existing`
    route: the run's cookie is kept while the canary has weight, and becomes the previous one
    when the weight drops to 0."""
    annotations = ((existing or {}).get("metadata") or {}).get("annotations") or {}
    current = _stored(annotations, CURRENT_ANNOTATION)
    if current is not None and not current.startswith(f"{affinity.cookie_name}="):
        current = None  # the cookie was renamed: a new one
    if canary_weight > 0:
        primary = None
        if affinity.primary_cookie_name is not None:
            primary = _stored(annotations, PRIMARY_ANNOTATION)
            if primary is None or not primary.startswith(f"{affinity.primary_cookie_name}="):
                primary = _new(affinity.primary_cookie_name)
        return Cookies(canary=current or _new(affinity.cookie_name), primary=primary)
    return Cookies(previous=current or _stored(annotations, PREVIOUS_ANNOTATION))


def cookie_match(cookie: str) -> dict[str, Any]:
    """An HTTPRouteMatch of every path whose requests carry `cookie` (Flagger's regex)."""
    name, value = cookie.split("=", 1)
    header = {"type": "RegularExpression", "name": "Cookie", "value": f".*{name}.*{value}.*"}
    return {"path": {"type": "PathPrefix", "value": "/"}, "headers": [header]}


def set_cookie(cookie: str, max_age: int, attributes: str = "") -> dict[str, Any]:
    """A ResponseHeaderModifier filter adding `Set-Cookie: <cookie>; Max-Age=<max_age>...`."""
    value = f"{cookie}; Max-Age={max_age}{attributes}"
    return {
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"add": [{"name": "Set-Cookie", "value": value}]},
    }


def sticky_rules(
    weighted: dict[str, Any], affinity: Affinity, cookies: Cookies, *, names: tuple[str, str]
) -> list[dict[str, Any]]:
    """The rules that go before the `weighted` rule (whose backendRefs get their Set-Cookie
    filters here). `names` are the (primary, canary) Service names."""
    primary_name, canary_name = names
    refs = {ref["name"]: ref for ref in weighted["backendRefs"]}
    plain = {name: {k: v for k, v in ref.items() if k != "filters"} for name, ref in refs.items()}

    def copy_to(**weights: int) -> dict[str, Any]:
        rule = {key: value for key, value in weighted.items() if key != "backendRefs"}
        rule["backendRefs"] = [
            {**plain[primary_name], "weight": weights["primary"]},
            {**plain[canary_name], "weight": weights["canary"]},
        ]
        return rule

    rules = []
    if cookies.canary is not None:
        max_age = affinity.max_age or 86400
        refs[canary_name].setdefault("filters", []).append(
            set_cookie(cookies.canary, max_age, affinity.attributes)
        )
        rules.append(copy_to(primary=0, canary=100) | {"matches": [cookie_match(cookies.canary)]})
    if cookies.primary is not None:
        refs[primary_name].setdefault("filters", []).append(
            set_cookie(cookies.primary, affinity.interval_seconds, affinity.attributes)
        )
        rules.append(copy_to(primary=100, canary=0) | {"matches": [cookie_match(cookies.primary)]})
    if cookies.previous is not None and cookies.canary is None:
        expire = copy_to(primary=100, canary=0) | {"matches": [cookie_match(cookies.previous)]}
        expire["filters"] = [*expire.get("filters", []), set_cookie(cookies.previous, -1)]
        rules.append(expire)
    return rules
