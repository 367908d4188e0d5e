"""Flagger's fields that belong to providers (or features) this controller does not implement yet,
and the `provider` names it does not implement.

Flagger reads a provider's fields only with that provider: `service.trafficPolicy` (Istio) on a
Canary routed by Linkerd is ignored by Flagger, which releases that Canary correctly. So such a
field is accepted here too, kept as written, and reported as ignored (`ignored_fields`: the
controller shows it as a warning condition and event, `canary check` prints it as a warning).
A field is refused only where Flagger applies it with the Canary's provider and this controller
cannot (`Foreign.refused_with`): `service.rewrite` with `gatewayapi:*`, `service.headless` with any
provider. Then a CEL rule names the field (the models raise the same message, so `canary
check` says it too); with no `provider` set the controller's default decides, and the
controller refuses it (`unapplied_fields`). A provider this controller does not implement
(`istio`, `nginx`, ...) is refused at admission naming it (`PROVIDER_RULE`).

This module holds the tables and the ways of applying them (schema, validation, the lists of
ignored and unapplied fields); it must not do I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic.config import JsonDict

from canary.api.base import CelRule

# The traffic providers this controller routes with (one line each; canary.routers.registry
# holds their routers and must list the same names).
PROVIDERS = (
    "linkerd",
    "smi:v1alpha1",
    "smi:v1alpha2",
    "smi:v1alpha3",
    "smi:v1alpha4",
    "kubernetes",
    "gatewayapi:v1",
    "gatewayapi:v1beta1",
    "nginx",
    "skipper",
    "istio",
    "contour",
    "gloo",
    "traefik",
    "apisix",
    "knative",
    "kuma",
)
# Providers Flagger had whose projects are retired upstream: refused, saying so.
RETIRED = {
    "appmesh": "AWS App Mesh",
    "appmesh:v1beta2": "AWS App Mesh",
    "osm": "Open Service Mesh",
}
PROVIDER_MAX = 64
_SUPPORTED = ", ".join(PROVIDERS)
_RETIRED_NOTE = (
    " is retired upstream (its project is archived) and not supported; route with "
    "gatewayapi:v1, linkerd or istio instead"
)
PROVIDER_RULE = CelRule(
    rule="self in [" + ", ".join(f"'{p}'" for p in PROVIDERS) + "]",
    message=f"provider is not supported yet; supported providers: {_SUPPORTED}",
    message_expression="self in [" + ", ".join(f"'{p}'" for p in RETIRED) + "] ? "
    f"'provider ' + self + '{_RETIRED_NOTE}' : "
    f"'provider ' + self + ' is not supported yet; supported providers: {_SUPPORTED}'",
)


def provider_message(provider: str) -> str:
    """What PROVIDER_RULE's messageExpression says of `provider`."""
    if provider in RETIRED:
        return f"provider {provider}{_RETIRED_NOTE}"
    return f"provider {provider} is not supported yet; supported providers: {_SUPPORTED}"


# Prefixes of the providers with which Flagger applies a field: "" stands for every provider.
EVERY = ("",)
GATEWAY_API = ("gatewayapi:",)
NONE: tuple[str, ...] = ()

# The JSON types of the fields, as Flagger's CRD has them: CEL sees only typed fields, and an
# object keeps whatever it holds.
_OBJECT: Mapping[str, Any] = MappingProxyType(
    {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
)
_STRING: Mapping[str, Any] = MappingProxyType({"type": "string", "maxLength": 253})
_BOOLEAN: Mapping[str, Any] = MappingProxyType({"type": "boolean"})
_STRINGS: Mapping[str, Any] = MappingProxyType(
    {"type": "array", "maxItems": 64, "items": dict(_STRING)}
)
_OBJECTS: Mapping[str, Any] = MappingProxyType(
    {"type": "array", "maxItems": 64, "items": dict(_OBJECT)}
)


@dataclass(frozen=True)
class Foreign:
    """A field (camelCase, as written) of the object at `where` (`spec` or `service`), whose
    setting it is (`owner`), the providers of this controller with which Flagger applies it
    (`refused_with`: prefixes; with any other provider Flagger ignores it), its JSON schema, and
    a hint for the user."""

    where: str
    field: str
    owner: str
    refused_with: tuple[str, ...] = NONE
    schema: Mapping[str, Any] = dataclasses.field(default_factory=lambda: _OBJECT)
    hint: str = ""

    @property
    def path(self) -> str:
        """The field's path in the Canary: `spec.service.trafficPolicy`."""
        return f"spec.{self.field}" if self.where == "spec" else f"spec.service.{self.field}"

    @property
    def message(self) -> str:
        """Why it is refused (with a provider of `refused_with`)."""
        name = f"{self.where}.{self.field}"
        if self.refused_with == EVERY:
            return f"{name} is {self.owner} this controller does not support yet{self.hint}"
        return (
            f"{name} is {self.owner} this controller does not support yet{self.hint}: Flagger "
            "applies it with provider gatewayapi:*, so such a Canary is refused rather than "
            "routed without it (other providers ignore it)"
        )

    def ignored(self, provider: str) -> str:
        """What the warning says when it is set with `provider`, which ignores it."""
        ignored = f"ignored with provider {provider} as Flagger ignores it"
        return f"{self.path} is {self.owner}, {ignored}"

    def refused(self, provider: str) -> bool:
        return any(provider.startswith(prefix) for prefix in self.refused_with)

    def rule(self) -> CelRule | None:
        """The CEL rule refusing it, on the object at `where` (every provider) or on the spec
        (named providers), or None when it is only ever ignored."""
        if self.refused_with == EVERY:
            return CelRule(rule=f"!has(self.{self.field})", message=self.message)
        if not self.refused_with:
            return None
        owner = "self" if self.where == "spec" else "self.service"
        applied = " || ".join(f"self.provider.startsWith('{p}')" for p in self.refused_with)
        # `service` may be absent (a Knative target): then none of its fields is set.
        present = "" if self.where == "spec" else "!has(self.service) || "
        return CelRule(
            rule=f"{present}!has({owner}.{self.field}) || !has(self.provider) || !({applied})",
            message=self.message,
        )


_ISTIO = "an Istio setting"
_ISTIO_GATEWAY_API = "an Istio and Gateway API setting"
_GATEWAY_API = "a Gateway API setting"
_APP_MESH = "an App Mesh setting"
_FLAGGER = "a Flagger setting"

SPEC_FIELDS = (
    Foreign("spec", "ingressRef", "an NGINX and Skipper setting"),
    Foreign("spec", "routeRef", "an APISIX setting"),
    Foreign("spec", "upstreamRef", "a Gloo setting"),
)
SERVICE_FIELDS = (
    Foreign("service", "gateways", _ISTIO, schema=_STRINGS),
    Foreign("service", "delegation", _ISTIO, schema=_BOOLEAN),
    Foreign("service", "trafficPolicy", _ISTIO),
    Foreign("service", "retries", _ISTIO),
    Foreign(
        "service",
        "match",
        _ISTIO_GATEWAY_API,
        GATEWAY_API,
        _OBJECTS,
        " (A/B tests: analysis.match)",
    ),
    Foreign("service", "rewrite", _ISTIO_GATEWAY_API, GATEWAY_API),
    Foreign("service", "corsPolicy", _ISTIO_GATEWAY_API, GATEWAY_API),
    Foreign(
        "service",
        "mirror",
        _GATEWAY_API,
        GATEWAY_API,
        _OBJECTS,
        " (mirroring during analysis: analysis.mirror)",
    ),
    Foreign(
        "service",
        "backendTimeout",
        _GATEWAY_API,
        GATEWAY_API,
        _STRING,
        " (service.timeout is supported)",
    ),
    Foreign("service", "meshName", _APP_MESH, schema=_STRING),
    Foreign("service", "backends", _APP_MESH, schema=_STRINGS),
    Foreign("service", "headless", _FLAGGER, EVERY, _BOOLEAN),
    Foreign("service", "trafficDistribution", _FLAGGER, EVERY, _STRING),
    Foreign("service", "unmanagedMetadata", _FLAGGER, EVERY),
)
FOREIGN_FIELDS = (*SPEC_FIELDS, *SERVICE_FIELDS)


def schema_extra(
    fields: Iterable[Foreign], *rules: CelRule, provider_rules: Iterable[Foreign] = ()
) -> Callable[[JsonDict], None]:
    """The model's `json_schema_extra`: `rules`, the rules refusing `fields` with every provider
    and `provider_rules`' with theirs, and the fields themselves, as properties that take any
    value."""
    fields, provider_rules = tuple(fields), tuple(provider_rules)

    def extend(schema: JsonDict) -> None:
        properties = schema.setdefault("properties", {})
        assert isinstance(properties, dict)  # noqa: S101 - pydantic's object schema
        for foreign in fields:
            properties[foreign.field] = dict(foreign.schema)
        found = [f.rule() for f in fields if f.refused_with == EVERY]
        found += [f.rule() for f in provider_rules if f.refused_with not in (EVERY, NONE)]
        validations = [rule.schema() for rule in (*rules, *(r for r in found if r is not None))]
        schema["x-kubernetes-validations"] = validations  # type: ignore[assignment]

    return extend


def set_aside(fields: Iterable[Foreign], data: Any) -> Any:
    """A model's input with the foreign fields of `fields` taken out, their names listed under
    `foreignFields` and their values, as written, kept under `foreignValues` (for the routers
    that apply them); a ValueError naming the first one refused with every provider."""
    if not isinstance(data, Mapping):
        return data
    found = [f for f in fields if f.field in data]
    for foreign in found:
        if foreign.refused_with == EVERY:
            raise ValueError(foreign.message)
    if not found:
        return data
    names = {f.field for f in found}
    kept = {key: value for key, value in data.items() if key not in names}
    values = {f.field: data[f.field] for f in found}
    return {**kept, "foreignFields": tuple(f.field for f in found), "foreignValues": values}


def set_fields(spec_fields: Iterable[str], service_fields: Iterable[str]) -> list[Foreign]:
    """The foreign fields a Canary sets, from the names its spec and service set aside."""
    spec, service = set(spec_fields), set(service_fields)
    return [f for f in SPEC_FIELDS if f.field in spec] + [
        f for f in SERVICE_FIELDS if f.field in service
    ]


def ignored_fields(
    found: Iterable[Foreign], provider: str, *, applied: Iterable[str] = ()
) -> list[str]:
    """What to warn of: each field of `found` that `provider` ignores (it applies the fields
    whose paths, `spec.service.trafficPolicy`, are in `applied`)."""
    honoured = set(applied)
    return [
        f.ignored(provider) for f in found if not f.refused(provider) and f.path not in honoured
    ]


def unapplied_fields(found: Iterable[Foreign], provider: str) -> list[str]:
    """What to refuse: each field of `found` Flagger applies with `provider` (admission refuses
    it when the Canary names its provider; the controller when its default applies)."""
    return [
        f"{f.path} with provider {provider} ({f.message})" for f in found if f.refused(provider)
    ]
