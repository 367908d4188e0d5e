"""Turn a model's JSON schema (pydantic's, JSON Schema 2020-12) into a structural OpenAPI schema.

The API server accepts only structural schemas: every node has a type, there are no `$ref`s,
`anyOf` only in narrow forms, no `title`s. Pydantic writes none of that, so this module inlines
references, collapses optional fields (`X | None`) to `X`, marks `int | str` as
`x-kubernetes-int-or-string`, and drops what the API server would refuse or apply as defaults
(defaults stay in the models: the stored object keeps exactly what its author wrote).

It refuses, rather than passes through, any keyword it does not know, and any string, list or
map without an upper bound: a CRD the API server would reject, or whose CEL rules it could not
cost, is a bug to find here, not at install time.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# Map keys' constraints (`propertyNames`) have no OpenAPI form; the models still check them.
_DROPPED = {"title", "default", "examples", "propertyNames"}
_KEPT = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "format",
    "pattern",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "nullable",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
}
_BOUNDED_FORMATS = {"date-time"}


class SchemaError(ValueError):
    """The models describe something a structural CRD schema cannot express."""


def structural(schema: Schema) -> Schema:
    """The structural form of `schema`, a pydantic JSON schema with its `$defs`."""
    definitions = schema.get("$defs", {})
    root = {key: value for key, value in schema.items() if key != "$defs"}
    return _convert(root, definitions, "")


def _convert(node: Schema, definitions: Schema, path: str) -> Schema:
    node = _resolve(node, definitions)
    if "anyOf" in node:
        node = _collapse_any_of(node, definitions, path)
    if "const" in node:
        node = {key: value for key, value in node.items() if key != "const"} | {
            "enum": [node["const"]]
        }
    result: Schema = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key not in _KEPT:
            raise SchemaError(f"{path or '<root>'}: keyword {key!r} has no structural form")
        if key == "properties":
            result[key] = {
                name: _convert(child, definitions, f"{path}.{name}")
                for name, child in value.items()
            }
        elif key in {"items", "additionalProperties"} and isinstance(value, dict):
            result[key] = _convert(value, definitions, f"{path}[]")
        else:
            result[key] = value
    if result.get("additionalProperties") is False:
        del result["additionalProperties"]  # the API server prunes unknown fields instead
    _require_bounds(result, path)
    return result


def _resolve(node: Schema, definitions: Schema) -> Schema:
    """`node` with its `$ref` replaced by the definition, merged with the keywords beside it."""
    if "$ref" not in node:
        return node
    name = node["$ref"].removeprefix("#/$defs/")
    beside = {key: value for key, value in node.items() if key != "$ref"}
    return _merge(_resolve(definitions[name], definitions), beside)


def _merge(base: Schema, overlay: Schema) -> Schema:
    """`overlay` over `base`; CEL rules of both are kept (the field's and its type's)."""
    merged = {**base, **overlay}
    rules = base.get("x-kubernetes-validations", []) + overlay.get("x-kubernetes-validations", [])
    if rules:
        merged["x-kubernetes-validations"] = rules
    return merged


def _collapse_any_of(node: Schema, definitions: Schema, path: str) -> Schema:
    options = [_resolve(option, definitions) for option in node["anyOf"]]
    beside = {key: value for key, value in node.items() if key != "anyOf"}
    present = [option for option in options if option.get("type") != "null"]
    if len(present) == 1:
        return _merge(present[0], beside)
    if sorted(str(option.get("type")) for option in present) == ["integer", "string"]:
        # The API server allows no constraints beside int-or-string; the models still check them.
        return {**beside, "x-kubernetes-int-or-string": True}
    raise SchemaError(f"{path}: a union of {options} has no structural form")


def _require_bounds(node: Schema, path: str) -> None:
    kind = node.get("type")
    if (
        kind == "string"
        and "maxLength" not in node
        and "enum" not in node
        and node.get("format") not in _BOUNDED_FORMATS
    ):
        raise SchemaError(f"{path}: a string needs maxLength (CEL cost, object size)")
    if kind == "array" and "maxItems" not in node:
        raise SchemaError(f"{path}: a list needs maxItems (CEL cost, object size)")
    if kind == "object" and "additionalProperties" in node and "maxProperties" not in node:
        raise SchemaError(f"{path}: a map needs maxProperties (CEL cost, object size)")
