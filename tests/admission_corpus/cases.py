"""The corpus's parts: the case type, the base manifests, the changes cases make of them, and
the API server's messages that several cases share."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from canary.api import GROUP, VERSION

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NIL = "<nil>"  # the field of a cause that names none
NOT_ALL_CHECKED = {
    "reason": "FieldValueInvalid",
    "message": "Invalid value: null: some validation rules were not checked because the object "
    "was invalid; correct the existing errors to complete validation",
    "field": NIL,
}

Manifest = dict[str, Any]
Cause = dict[str, str]
Change = Callable[[Manifest], None]
PLURALS = {
    "Canary": "canaries",
    "MetricTemplate": "metrictemplates",
    "AlertProvider": "alertproviders",
}


def example(path: str, kind: str) -> Manifest:
    """The `kind` object of the example file `path` (under examples/), a fresh copy."""
    return copy.deepcopy(_example(path, kind))


@cache
def _example(path: str, kind: str) -> Manifest:
    documents = yaml.safe_load_all((EXAMPLES / path).read_text())
    found: Manifest = next(d for d in documents if d and d.get("kind") == kind)
    return found


def provider(**spec: Any) -> Manifest:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AlertProvider",
        "metadata": {"name": "on-call"},
        "spec": {"type": "slack", "address": "https://hooks.slack.test/services/T0/B0/x", **spec},
    }


BASES: dict[str, Callable[[], Manifest]] = {
    "canaries": lambda: example("podinfo/canary.yaml", "Canary"),
    "metrictemplates": lambda: example("podinfo/metrictemplate.yaml", "MetricTemplate"),
    "alertproviders": provider,
}


@dataclass(frozen=True)
class Case:
    """A manifest (the base of `kind`, changed by `change`) and what the API server says of it."""

    id: str
    change: Change | None
    causes: list[Cause]  # the causes of its 422, in order; [] when it is admitted
    kind: str = "canaries"  # the plural of the kind, which chooses the base manifest
    rule_message: str | None = None  # a CEL rule's message; the models must say the same
    # Fields strict decoding refuses (HTTP 400, before any validation): the API server gives
    # `causes` once they are removed.
    unknown: tuple[str, ...] = ()
    base: Callable[[], Manifest] | None = None  # another base than the kind's

    def manifest(self) -> Manifest:
        manifest = (self.base or BASES[self.kind])()
        if self.change is not None:
            self.change(manifest)
        return manifest

    @property
    def admitted(self) -> bool:
        return not self.causes and not self.unknown

    @property
    def fields(self) -> set[str]:
        """Every field the API server names, in its causes or in its strict-decoding error."""
        return {c["field"] for c in self.causes if c["field"] != NIL} | set(self.unknown)


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> Cause:
    return {"reason": reason, "message": message, "field": field}


def rule_cause(field: str, message: str) -> Cause:
    """How the API server reports a failed CEL rule on an object or list item."""
    return cause(field, f"Invalid value: {message}")


def in_analysis(**fields: Any) -> Change:
    """Set (or, with None, remove) fields of spec.analysis."""

    def change(manifest: Manifest) -> None:
        for name, value in fields.items():
            if value is None:
                manifest["spec"]["analysis"].pop(name, None)
            else:
                manifest["spec"]["analysis"][name] = value

    return change


def in_spec(path: str, value: Any) -> Change:
    """Set the field at the dotted `path` under spec."""

    def change(manifest: Manifest) -> None:
        *parents, last = path.split(".")
        node = manifest["spec"]
        for name in parents:
            node = node[name]
        node[last] = value

    return change


def in_provider_spec(**fields: Any) -> Change:
    """Set (or, with None, remove) fields of spec."""

    def change(manifest: Manifest) -> None:
        for name, value in fields.items():
            if value is None:
                manifest["spec"].pop(name, None)
            else:
                manifest["spec"][name] = value

    return change


def metric(**fields: Any) -> dict[str, Any]:
    return {"name": "error-rate", "thresholdRange": {"max": 1}, **fields}


def webhook(**fields: Any) -> dict[str, Any]:
    return {"name": "load-test", "url": "http://loadtester.test/", **fields}


def provider_case(
    id: str,  # noqa: A002 - the name Case uses
    change: Change,
    causes: list[Cause],
    rule_message: str | None = None,
) -> Case:
    return Case(id, change, causes, kind="alertproviders", rule_message=rule_message)


def whole_spec(spec: Manifest) -> Change:
    def change(manifest: Manifest) -> None:
        manifest["spec"] = copy.deepcopy(spec)

    return change


def in_metadata(**fields: Any) -> Change:
    """Set fields of metadata."""

    def change(manifest: Manifest) -> None:
        manifest["metadata"].update(copy.deepcopy(fields))

    return change


def all_of(*changes: Change) -> Change:
    def change(manifest: Manifest) -> None:
        for each in changes:
            each(manifest)

    return change


def drop_name(manifest: Manifest) -> None:
    del manifest["metadata"]["name"]


def drop_target_name(manifest: Manifest) -> None:
    del manifest["spec"]["targetRef"]["name"]


def typo_and_duplicate(manifest: Manifest) -> None:
    analysis = manifest["spec"]["analysis"]
    analysis["stepweight"] = 5  # the typo that would otherwise do nothing
    analysis["metrics"].append(copy.deepcopy(analysis["metrics"][0]))


PATTERN = "'^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'"
INTERVAL = 'analysis.interval must be a duration between 1s and 1h, e.g. "30s"'
ONE_MODE = (
    "exactly one of analysis.stepWeight, analysis.stepWeights or analysis.iterations must be set"
)
SOURCE = (
    "a metric needs exactly one of query or templateRef; only request-success-rate and "
    "request-duration may have neither"
)
METRIC_RANGE = "a metric needs a thresholdRange with min, max or both (or Flagger's threshold)"
WEBHOOK_URL = "webhook url must be an absolute http(s) URL"
WEBHOOK_TYPES = (
    '"confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase", '
    '"confirm-promotion", "post-rollout", "rollback", "event"'
)

TYPES = '"slack", "msteams", "discord", "gchat", "webhook"'
