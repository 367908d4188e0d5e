"""What the API server refuses by the CRD's structure before any rule runs, found offline.

The models ignore unknown fields (the API server prunes them on objects it has stored) and coerce
nothing but floats, so three refusals of `kubectl apply` are checked here against the generated
CRD schema itself: an unknown field (kubectl's strict decoding: `unknown field
"spec.analysis.stepweight"`, the misspelling that would otherwise silently do nothing), a value
of the wrong JSON type, and two items of a keyed list (or a set) with the same key. Null values
are left alone: the API server drops them before validating.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from canary.cli.check.problems import Problem, join, json_type

Schema = Mapping[str, Any]


def structure_problems(document: Any, schema: Schema, *, path: str = "") -> list[Problem]:
    """The unknown fields, wrong types and duplicate list items of `document` under `schema`."""
    if document is None or schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if (problem := _type_problem(document, schema, path)) is not None:
        return [problem]
    if isinstance(document, Mapping):
        return _object_problems(document, schema, path)
    if isinstance(document, list):
        return _list_problems(document, schema, path)
    return []


def _type_problem(document: Any, schema: Schema, path: str) -> Problem | None:
    expected, actual = schema.get("type"), json_type(document)
    if schema.get("x-kubernetes-int-or-string"):
        fits = actual in {"integer", "string"}
    elif expected is None:
        fits = True
    else:
        fits = actual == expected or (expected == "number" and actual == "integer")
    if fits:
        return None
    wanted = "integer or string" if schema.get("x-kubernetes-int-or-string") else expected
    return Problem(
        path,
        f'Invalid value: "{actual}": {path} in body must be of type {wanted}: "{actual}"',
        blocking=True,
    )


def _object_problems(document: Mapping[str, Any], schema: Schema, path: str) -> list[Problem]:
    properties, values = schema.get("properties"), schema.get("additionalProperties")
    if properties is None and not isinstance(values, Mapping):
        return []  # a free-form object (metadata): the API server checks it elsewhere
    found = []
    for key, value in document.items():
        where = join(path, str(key))
        if properties is not None and key in properties:
            found += structure_problems(value, properties[key], path=where)
        elif isinstance(values, Mapping):
            found += structure_problems(value, values, path=where)
        else:
            found.append(Problem(where, f'unknown field "{where}"'))
    return found


def _list_problems(document: list[Any], schema: Schema, path: str) -> list[Problem]:
    items = schema.get("items")
    found = []
    if isinstance(items, Mapping):
        for index, item in enumerate(document):
            found += structure_problems(item, items, path=join(path, index))
    seen: set[str] = set()
    for index, item in enumerate(document):
        key = _list_key(item, schema)
        if key is None:
            continue
        if key in seen:
            found.append(Problem(join(path, index), f"Duplicate value: {key}"))
        seen.add(key)
    return found


def _list_key(item: Any, schema: Schema) -> str | None:
    """What identifies `item` in a keyed list (`{"name":"x"}`) or a set (the value), as JSON."""
    match schema.get("x-kubernetes-list-type"):
        case "map" if isinstance(item, Mapping):
            keys = schema.get("x-kubernetes-list-map-keys") or []
            return json.dumps({k: item.get(k) for k in keys}, separators=(",", ":"))
        case "set":
            return json.dumps(item, separators=(",", ":"), sort_keys=True)
        case _:
            return None
