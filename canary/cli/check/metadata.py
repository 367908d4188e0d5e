"""What the API server refuses in an object's metadata, found offline.

The CRD leaves `metadata` to the API server, which checks it the same way for every kind
(apimachinery's `ValidateObjectMeta`): the name (or the `generateName` prefix) must be a DNS
subdomain of at most 253 characters, label keys and annotation keys must be qualified names,
label values short and plain, and all annotations together at most 256 KiB. The messages are the
API server's. Owner references, finalizers and managed fields are not checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from canary.cli.check.problems import Problem, shown

SUBDOMAIN_LIMIT = 253
NAME_PART_LIMIT = 63
LABEL_VALUE_LIMIT = 63
ANNOTATIONS_LIMIT = 256 * 1024  # bytes, keys and values together
# A name made from `generateName`: the prefix cut to 58 characters, and 5 random ones (which
# cannot make a name invalid; these stand for them).
GENERATED_PREFIX_LIMIT = 58
GENERATED_SUFFIX = "xxxxx"

_SUBDOMAIN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_NAME_PART = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    f"for validation is '{_SUBDOMAIN}')"
)
_NAME_PART_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    f"for validation is '{_NAME_PART}')"
)
_QUALIFIED_NAME_MESSAGE = (
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    f"used for validation is '{_NAME_PART}') with an optional DNS subdomain prefix and '/' (e.g. "
    "'example.com/MyName')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE}')"
)


def metadata_problems(metadata: Mapping[str, Any]) -> list[Problem]:
    """The problems the API server finds in `metadata` (a decoded object's `metadata`)."""
    found: list[Problem] = []
    name, prefix = metadata.get("name"), metadata.get("generateName")
    if isinstance(prefix, str) and prefix:
        found += _invalid("metadata.generateName", prefix, _subdomain(prefix, prefix=True))
        if not name:  # the API server names the object before validating it
            name = prefix[:GENERATED_PREFIX_LIMIT] + GENERATED_SUFFIX
    if not name and not prefix:
        found.append(
            Problem(
                "metadata.name", "Required value: name or generateName is required", blocking=True
            )
        )
    elif isinstance(name, str) and name:
        found += _invalid("metadata.name", name, _subdomain(name, prefix=False))
    labels, annotations = metadata.get("labels"), metadata.get("annotations")
    if isinstance(labels, Mapping):
        found += _label_problems(labels)
    if isinstance(annotations, Mapping):
        found += _annotation_problems(annotations)
    return found


def _label_problems(labels: Mapping[str, Any]) -> list[Problem]:
    found = []
    for key, value in labels.items():
        found += _invalid("metadata.labels", key, qualified_name(str(key)))
        if isinstance(value, str):
            found += _invalid("metadata.labels", value, _label_value(value))
    return found


def _annotation_problems(annotations: Mapping[str, Any]) -> list[Problem]:
    found = []
    for key in annotations:
        # Qualified names, except that case does not matter.
        found += _invalid("metadata.annotations", key, qualified_name(str(key).lower()))
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > ANNOTATIONS_LIMIT:
        found.append(
            Problem(
                "metadata.annotations",
                f"Too long: may not be more than {ANNOTATIONS_LIMIT} bytes",
                blocking=True,
            )
        )
    return found


def _invalid(path: str, value: str, messages: list[str]) -> list[Problem]:
    return [Problem(path, f"Invalid value: {shown(value)}: {message}") for message in messages]


def _subdomain(value: str, *, prefix: bool) -> list[str]:
    """A name's problems; a `generateName` prefix may end in '-' (a suffix follows it)."""
    if prefix and value.endswith("-"):
        value = value[:-1] + "a"
    return _checked(value, SUBDOMAIN_LIMIT, _SUBDOMAIN, _SUBDOMAIN_MESSAGE)


def qualified_name(value: str) -> list[str]:
    """The problems of a label or annotation key: `name` or `prefix/name`."""
    parts = value.split("/")
    if len(parts) > 2:
        return [_QUALIFIED_NAME_MESSAGE]
    found = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            found.append("prefix part must be non-empty")
        else:
            found += [f"prefix part {m}" for m in _subdomain(prefix, prefix=False)]
    name = parts[-1]
    if not name:
        return [*found, "name part must be non-empty"]
    return found + _checked(name, NAME_PART_LIMIT, _NAME_PART, _NAME_PART_MESSAGE, "name part ")


def _label_value(value: str) -> list[str]:
    return _checked(value, LABEL_VALUE_LIMIT, _LABEL_VALUE, _LABEL_VALUE_MESSAGE)


def _checked(value: str, limit: int, pattern: str, message: str, part: str = "") -> list[str]:
    """`value`'s problems with a length `limit` and a `pattern` (which `message` explains), as
    the API server words them; `part` names what is too long (e.g. "name part ")."""
    found = []
    if len(value) > limit:
        found.append(f"{part}must be no more than {limit} characters")
    if re.fullmatch(pattern, value) is None:
        found.append(message)
    return found
