"""What every model of the API shares: the JSON conventions, bounded field types, CEL rules.

Kubernetes APIs are camelCase JSON; Python code here is snake_case. `ApiModel` maps one to the
other, keeps integers integers (a `2.5` or `"3"` where an int belongs is an error, never a silent
conversion), and turns field docstrings into the descriptions `kubectl explain` shows.

Every free-text field is bounded (`maxLength`, `maxProperties`): the API server refuses CEL rules
whose worst-case cost it cannot bound, and unbounded strings are how a single object grows a
controller's memory. The CRD generator refuses a string field without a bound.

This module must stay free of I/O and of imports from the rest of `canary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, Strict, StringConstraints
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP: Final = "canary.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = "canary.dev/v1alpha1"


class ApiModel(BaseModel):
    """Base of every API object: camelCase on the wire, snake_case in Python.

    Unknown fields are ignored rather than refused: the API server prunes them before the
    controller ever sees them, and a controller older than its CRD must still read new objects.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        use_attribute_docstrings=True,
        extra="ignore",
    )

    def to_manifest(self) -> dict[str, Any]:
        """The JSON-ready dict with camelCase keys, leaving out fields that are None (absent
        on the wire); a metric check's `value` is the one kept as an explicit null."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# Integers and booleans as the API server sees them: no floats, no strings, no coercion.
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]

# A Kubernetes object name (DNS-1123 subdomain).
ObjectName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=253,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
    ),
]
# A namespace name (DNS-1123 label).
NamespaceName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
]
# Short identifiers and labels: names of metrics and webhooks, API versions, kinds.
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=253)]
# Messages, header values, metadata values.
Text = Annotated[str, StringConstraints(max_length=4096)]
# Absolute URLs; their scheme is checked by a CEL rule where they are used.
Url = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
# Maps of short strings (labels, metadata, headers): bounded in count and size.
StringMap = Annotated[dict[ShortText, Text], Field(max_length=32)]

# Times must carry a zone: the API server stores RFC 3339, and a naive time is a bug upstream.
Timestamp = AwareDatetime


@dataclass(frozen=True)
class CelRule:
    """One `x-kubernetes-validations` rule and the message both the API server and the models
    give when it fails. The models check the same condition in Python (where it does not need
    the old object), so the controller can report it for objects admitted under an older CRD.
    """

    rule: str
    message: str
    # A CEL expression for the message, naming the value (the API server falls back on
    # `message` if it fails); the models say what it says.
    message_expression: str | None = None

    def schema(self) -> JsonDict:
        if self.message_expression is None:
            return {"rule": self.rule, "message": self.message}
        return {
            "rule": self.rule,
            "message": self.message,
            "messageExpression": self.message_expression,
        }


def parse_timestamp(value: object) -> datetime | None:
    """A Kubernetes RFC 3339 time (`2026-11-25T20:00:00Z`) as a datetime; None when `value` is
    not one (absent, another type, or malformed)."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def cel_rules(*rules: CelRule) -> JsonDict:
    """The JSON schema extra that attaches `rules` to a model or a field."""
    return {"x-kubernetes-validations": [rule.schema() for rule in rules]}


class ObjectMeta(ApiModel):
    """The part of an object's metadata the controller reads; the API server owns the rest."""

    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    finalizers: list[str] = Field(default_factory=list)
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None


def keyed_list(key: str, *, max_items: int) -> Any:
    """A list whose items are identified by `key` (a map list: server-side apply merges items
    by it, and the API server rejects two items with the same key)."""
    return Field(
        max_length=max_items,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key]},
    )
