"""Flagger's fields that belong to providers (or features) this controller does not implement yet.

A Flagger manifest that sets `service.trafficPolicy` is written for Istio. Left out of the
schema, such a field is refused by `kubectl` as an "unknown field" (or silently pruned), which
says nothing of why. Here each one is declared (any value, kept as written) and refused by a CEL
rule whose message names the field and its provider, e.g. "service.trafficPolicy is an Istio
setting; provider istio is not supported yet"; the models raise the same message, so `canary
check` says it too. This module holds the table and the two ways of applying it (schema and
validation); it must not do I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic.config import JsonDict

from canary.api.base import CelRule

_ISTIO = "an Istio setting; provider istio is not supported yet"
_ISTIO_GATEWAY_API = "an Istio and Gateway API setting this controller does not support yet"
_GATEWAY_API = "a Gateway API setting this controller does not support yet"
_APP_MESH = "an App Mesh setting; provider appmesh is not supported yet"
_FLAGGER = "a Flagger setting this controller does not support yet"


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
    """A field (camelCase, as written) of the object at `where`, its JSON schema, and what to
    say about it."""

    where: str
    field: str
    what: str
    schema: Mapping[str, Any] = dataclasses.field(default_factory=lambda: _OBJECT)

    @property
    def rule(self) -> CelRule:
        return CelRule(rule=f"!has(self.{self.field})", message=self.message)

    @property
    def message(self) -> str:
        return f"{self.where}.{self.field} is {self.what}"


SPEC_FIELDS = (
    Foreign(
        "spec",
        "ingressRef",
        "an NGINX and Skipper setting; providers nginx and skipper are not supported yet",
    ),
    Foreign("spec", "routeRef", "an APISIX setting; provider apisix is not supported yet"),
    Foreign("spec", "upstreamRef", "a Gloo setting; provider gloo is not supported yet"),
)
SERVICE_FIELDS = (
    Foreign("service", "gateways", _ISTIO, _STRINGS),
    Foreign("service", "delegation", _ISTIO, _BOOLEAN),
    Foreign("service", "trafficPolicy", _ISTIO),
    Foreign("service", "retries", _ISTIO),
    Foreign("service", "match", _ISTIO_GATEWAY_API + " (A/B tests: analysis.match)", _OBJECTS),
    Foreign("service", "rewrite", _ISTIO_GATEWAY_API),
    Foreign("service", "corsPolicy", _ISTIO_GATEWAY_API),
    Foreign(
        "service",
        "mirror",
        _GATEWAY_API + " (mirroring during analysis: analysis.mirror)",
        _OBJECTS,
    ),
    Foreign("service", "backendTimeout", _GATEWAY_API + " (service.timeout is supported)", _STRING),
    Foreign("service", "meshName", _APP_MESH, _STRING),
    Foreign("service", "backends", _APP_MESH, _STRINGS),
    Foreign("service", "headless", _FLAGGER, _BOOLEAN),
    Foreign("service", "trafficDistribution", _FLAGGER, _STRING),
    Foreign("service", "unmanagedMetadata", _FLAGGER),
)


def schema_extra(fields: Iterable[Foreign], *rules: CelRule) -> Callable[[JsonDict], None]:
    """The model's `json_schema_extra`: `rules` plus one refusing rule per field of `fields`,
    and the fields themselves, as properties that take any value."""
    fields = tuple(fields)

    def extend(schema: JsonDict) -> None:
        properties = schema.setdefault("properties", {})
        assert isinstance(properties, dict)  # noqa: S101 - pydantic's object schema
        for foreign in fields:
            properties[foreign.field] = dict(foreign.schema)
        validations = [rule.schema() for rule in (*rules, *(f.rule for f in fields))]
        schema["x-kubernetes-validations"] = validations  # type: ignore[assignment]

    return extend


def refuse(fields: Iterable[Foreign], data: Any) -> Any:
    """`data` (a model's input) unchanged, or a ValueError naming the first foreign field set."""
    if isinstance(data, Mapping):
        for foreign in fields:
            if foreign.field in data:
                raise ValueError(foreign.message)
    return data
