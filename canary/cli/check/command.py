"""`canary check FILE... [-]`: each canary.dev object of each YAML file, OK or what is wrong.

Prints one line per object (`FILE: Canary/podinfo: OK`) or per problem (`FILE: Canary/podinfo:
spec.analysis.threshold: Invalid value: 0: ...`), and exits 1 if anything is wrong. Fields the
controller accepts and ignores (another provider's, as Flagger ignores them) are printed as
warnings (`FILE: Canary/podinfo: warning: ...`), which do not change the exit code. Objects of
other kinds in the same files (the Deployment beside its Canary) are listed as skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from canary.api import AlertProvider, Canary, MetricTemplate
from canary.api.crd import object_schema
from canary.cli.check.admission import admission_problems
from canary.cli.check.metadata import metadata_problems
from canary.cli.check.problems import Problem
from canary.cli.check.structure import structure_problems
from canary.controller.support import fields_honored, unsupported_fields, unsupported_message

HELP = "validate Canary, MetricTemplate and AlertProvider manifests offline (`-` reads stdin)"
MODELS: Mapping[str, type[BaseModel]] = {
    "Canary": Canary,
    "MetricTemplate": MetricTemplate,
    "AlertProvider": AlertProvider,
}


@dataclass(frozen=True)
class Result:
    """The verdict on one document of one file."""

    label: str  # "Canary/podinfo", or "document 3" for what has no kind
    problems: tuple[Problem, ...] = ()
    skipped: bool = False
    warnings: tuple[str, ...] = ()  # what the controller would warn of (FieldsHonored)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("check", help=HELP, description=HELP)
    parser.add_argument("files", nargs="+", metavar="FILE", help="YAML files; - for stdin")
    parser.add_argument(
        "--provider",
        default=os.environ.get("CANARY_PROVIDER", "linkerd"),
        help="the controller's provider for Canaries that set none (env CANARY_PROVIDER; "
        "default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    failed = False
    for name in args.files:
        for line, bad in report(name, provider=args.provider):
            print(line)
            failed = failed or bad
    return 1 if failed else 0


def report(name: str, *, provider: str) -> Iterator[tuple[str, bool]]:
    """(line to print, whether it is an error) for every document of the file `name`."""
    try:
        text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        yield f"{name}: cannot read: {error}", True
        return
    try:
        documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as error:
        yield f"{name}: not valid YAML: {' '.join(str(error).split())}", True
        return
    if not documents:
        yield f"{name}: no objects", False
    for number, document in enumerate(documents, start=1):
        result = check_document(document, number=number, provider=provider)
        if result.skipped:
            yield f"{name}: {result.label}: skipped (not a canary.dev kind)", False
        elif not result.problems:
            yield f"{name}: {result.label}: OK", False
        for problem in result.problems:
            yield f"{name}: {result.label}: {problem.text}", True
        for warning in result.warnings:
            yield f"{name}: {result.label}: warning: {warning}", False


def check_document(document: Any, *, number: int, provider: str) -> Result:
    """The problems of one decoded YAML document."""
    if not isinstance(document, dict) or not isinstance(document.get("kind"), str):
        return Result(f"document {number}", (Problem("", "not a Kubernetes object (no kind)"),))
    document = _plain(document)
    kind = document["kind"]
    metadata = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
    label = f"{kind}/{metadata.get('name') or '<no name>'}"
    model = MODELS.get(kind)
    if model is None:
        return Result(label, skipped=True)
    problems = metadata_problems(metadata)
    problems += structure_problems(document, _schema(kind))
    typed = {p.path for p in problems}
    warnings: list[str] = []
    try:
        validated = model.model_validate(document)
    except ValidationError as error:
        problems += [p for p in admission_problems(error, document) if p.path not in typed]
    else:
        if isinstance(validated, Canary) and not problems:
            unsupported = unsupported_fields(validated, default_provider=provider)
            if unsupported:
                problems.append(Problem("", unsupported_message(unsupported)))
            honored = fields_honored(validated, default_provider=provider)
            warnings += [c.message for c in honored.values() if c is not None]
    if any(p.blocking for p in problems):  # the API server runs no CEL rule then
        problems = [p for p in problems if not p.rule]
    return Result(label, tuple(problems), warnings=tuple(warnings))


@cache
def _schema(kind: str) -> Mapping[str, Any]:
    return object_schema(MODELS[kind])


def _plain(value: Any) -> Any:
    """YAML's timestamps as the RFC 3339 strings the API server would receive."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return value
