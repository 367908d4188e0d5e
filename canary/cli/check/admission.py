"""pydantic's validation errors, worded as the API server words the same refusal.

The models mirror the CRD: OpenAPI bounds, patterns, enums and required fields, and the CEL
rules, whose messages they raise verbatim. pydantic reports them in its own words ("Input should
be greater than or equal to 1"); a user comparing `canary check` with `kubectl apply` should
read the same sentence, so each kind of error is rewritten in the API server's form (`Invalid
value: 0: spec.analysis.threshold in body should be greater than or equal to 1`). Error kinds
with no API-server twin keep pydantic's message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from canary.cli.check.problems import Problem, join, json_type, shown

# pydantic type errors -> the JSON type the schema asked for.
_EXPECTED_TYPE = {
    "int_type": "integer",
    "int_parsing": "integer",
    "int_from_float": "integer",
    "float_type": "number",
    "float_parsing": "number",
    "string_type": "string",
    "bool_type": "boolean",
    "bool_parsing": "boolean",
    "dict_type": "object",
    "model_type": "object",
    "model_attributes_type": "object",
    "list_type": "array",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "should be greater than or equal to"),
    "greater_than": ("gt", "should be greater than"),
    "less_than_equal": ("le", "should be less than or equal to"),
    "less_than": ("lt", "should be less than"),
}
# Errors of these kinds stop the API server from running any CEL rule of the object.
_BLOCKING = {"missing", "literal_error", "string_too_long", "too_long", *_EXPECTED_TYPE}
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def admission_problems(error: ValidationError, document: Mapping[str, Any]) -> list[Problem]:
    """Every error of `error` (from validating `document`), as the API server would say it."""
    found: list[Problem] = []
    for detail in error.errors():
        problem = _problem(detail, document)
        if problem not in found:  # union members may report the same refusal twice
            found.append(problem)
    return found


def _problem(detail: ErrorDetails, document: Mapping[str, Any]) -> Problem:
    kind = detail["type"]
    path = field_path(detail["loc"], document, missing=kind == "missing")
    return Problem(
        path, message(detail, path), blocking=kind in _BLOCKING, rule=kind == "value_error"
    )


def field_path(loc: tuple[int | str, ...], document: Any, *, missing: bool = False) -> str:
    """The path of `loc` in `document`, without the parts pydantic adds that are not fields
    (the member of a union that failed, say): each part must lead into the document, except the
    last part of a missing field."""
    path, node = "", document
    for index, part in enumerate(loc):
        if _leads_into(node, part):
            path, node = join(path, part), node[part]
        elif missing and index == len(loc) - 1:
            path = join(path, part)
    return path


def _leads_into(node: Any, part: int | str) -> bool:
    if isinstance(node, Mapping):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)


def message(detail: ErrorDetails, path: str) -> str:  # noqa: PLR0911 - one return per kind
    kind, value, context = detail["type"], detail["input"], detail.get("ctx") or {}
    if kind == "value_error":  # a CEL rule's twin: its message, verbatim
        rule = str(context.get("error", detail["msg"]))
        if isinstance(value, dict | list):
            return f"Invalid value: {rule}"
        return f"Invalid value: {shown(value)}: {rule}"
    if kind == "missing":
        return "Required value"
    if kind in _EXPECTED_TYPE:
        actual = json_type(value)
        return (
            f'Invalid value: "{actual}": {path} in body must be of type '
            f'{_EXPECTED_TYPE[kind]}: "{actual}"'
        )
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"Invalid value: {shown(value)}: {path} in body {words} {context.get(key)}"
    if kind == "literal_error":
        supported = ", ".join(f'"{v}"' for v in _QUOTED.findall(str(context.get("expected"))))
        return f"Unsupported value: {shown(value)}: supported values: {supported}"
    if kind == "string_pattern_mismatch":
        return (
            f"Invalid value: {shown(value)}: {path} in body should match '{context.get('pattern')}'"
        )
    if kind == "string_too_long":
        return f"Too long: may not be more than {context.get('max_length')} bytes"
    if kind == "string_too_short":
        return (
            f"Invalid value: {shown(value)}: {path} in body should be at least "
            f"{context.get('min_length')} chars long"
        )
    if kind == "too_long":
        count = context.get("actual_length")  # None for a map: count it
        if count is None and isinstance(value, dict | list):
            count = len(value)
        return f"Too many: {count}: must have at most {context.get('max_length')} items"
    if kind == "too_short":
        return (
            f"Invalid value: {context.get('actual_length')}: {path} in body should have at "
            f"least {context.get('min_length')} items"
        )
    return str(detail["msg"])
