"""One problem found in a manifest: where (a field path as the API server writes it) and what."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# bool before int: a bool is an int to Python, not to JSON.
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
)


@dataclass(frozen=True)
class Problem:
    path: str  # "spec.analysis.metrics[0].thresholdRange"; "" for the whole object
    message: str
    # A wrong type, a missing field, an unsupported value, too long or too many: the API server
    # does not run the CEL rules of an object with such a problem (it says that some rules were
    # not checked), so neither does `canary check`.
    blocking: bool = False
    rule: bool = False  # found by a CEL rule (its twin in the models)

    @property
    def text(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def join(path: str, part: str | int) -> str:
    """`path` extended by a key (`.key`) or a list index (`[0]`)."""
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def joined(parts: Iterable[str | int]) -> str:
    path = ""
    for part in parts:
        path = join(path, part)
    return path


def json_type(value: Any) -> str:
    """The JSON type name of a decoded value, as the API server names it in its messages."""
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "object")


def shown(value: Any) -> str:
    """A value as the API server quotes it: JSON scalars as such, objects by their type name."""
    if isinstance(value, dict | list):
        return json.dumps(json_type(value))
    return json.dumps(value, separators=(",", ":"), default=str)
