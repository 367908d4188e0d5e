"""Canonical revision hashes: one short, stable name for "what the canary would run".

A revision names a pod template together with the content of the ConfigMaps and Secrets it uses.
A change of revision is what starts an analysis run, so the hash must move when, and only when,
what runs would change. Two rules follow:

* The hash is computed over canonical JSON (sorted keys, no whitespace, UTF-8) of the template
  in the API server's JSON form (camelCase keys, as `ApiClient.sanitize_for_serialization`
  produces), after dropping what must not cause a run: null values and empty maps or lists
  (clients differ in whether they send them; Kubernetes treats absent and empty alike),
  `metadata.creationTimestamp`, and the labels and annotations this controller writes itself
  (keys under `CONTROLLER_KEY_PREFIXES`). Replica counts are not in a pod template, so an HPA
  scaling the target never looks like a new revision.
* The hash is **stable across controller versions** (DESIGN.md section 3, difference 7): it
  depends only on the JSON, never on Python or library types. Tests pin the hash of a fixed
  template, so any change to this function shows up as a failing test and must be treated as a
  breaking change (every canary would start a run after an upgrade).

This module does no I/O: the shell reads the objects and passes plain dicts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# Keys with these prefixes are written by the controller (e.g. the revision recorded on the
# primary) and never make a new revision.
CONTROLLER_KEY_PREFIXES: tuple[str, ...] = ("canary.dev/",)

# Metadata fields the API server or clients fill in, which say nothing about what runs.
_IGNORED_METADATA = frozenset({"creationTimestamp"})

REVISION_LENGTH = 16  # hex characters: 64 bits, plenty for telling one Deployment's templates apart


def revision(template: Mapping[str, Any], configs: Mapping[str, str] | None = None) -> str:
    """The revision of `template` (a pod template as a JSON-compatible dict).

    `configs` maps tracked config references (e.g. "configmap/settings", "secret/token") to their
    content checksums (`config_checksum`); without any, the result is the template's own hash.
    Raises TypeError when the template holds values JSON cannot represent.
    """
    payload: dict[str, Any] = {"template": _normalized_template(template)}
    if configs:
        payload["configs"] = dict(configs)
    return _digest(payload)[:REVISION_LENGTH]


def config_checksum(data: Mapping[str, str]) -> str:
    """A checksum of one ConfigMap's or Secret's data, for the `configs` of `revision`."""
    return _digest(dict(data))[:REVISION_LENGTH]


def is_controller_key(key: str) -> bool:
    """Whether a label or annotation key is one the controller writes (ignored by the hash)."""
    return key.startswith(CONTROLLER_KEY_PREFIXES)


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalized_template(template: Mapping[str, Any]) -> Any:
    cleaned = dict(template)
    metadata = cleaned.get("metadata")
    if isinstance(metadata, Mapping):
        kept = {k: v for k, v in metadata.items() if k not in _IGNORED_METADATA}
        for field in ("labels", "annotations"):
            values = kept.get(field)
            if isinstance(values, Mapping):
                kept[field] = {k: v for k, v in values.items() if not is_controller_key(k)}
        cleaned["metadata"] = kept
    return _pruned(cleaned)


def _pruned(value: Any) -> Any:
    """Drop nulls and empty maps and lists, recursively (absent and empty mean the same)."""
    if isinstance(value, Mapping):
        pruned_map = {str(k): _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned_map.items() if not _is_empty(v)}
    if isinstance(value, list | tuple):
        return [_pruned(item) for item in value]
    return value


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, dict | list) and not value)
