"""Every complete canary.dev object written in the docs (a Canary, MetricTemplate or
AlertProvider in a ```yaml block of docs/**/*.md) is admitted by the sandbox's API server as
written (a strict dry run, as `kubectl apply` sends it), and `canary check` finds nothing wrong
with it. The documented Canary is released end to end in tests/e2e/test_examples_released.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi

from canary.api.base import GROUP, VERSION
from canary.cli.check.command import check_document
from tests.integration.crds import install_crds

pytestmark = pytest.mark.integration

DOCS = Path(__file__).resolve().parents[2] / "docs"
KINDS = {
    "Canary": "canaries",
    "MetricTemplate": "metrictemplates",
    "AlertProvider": "alertproviders",
}
_BLOCK = re.compile(r"```yaml\n(.*?)```", re.DOTALL)


def documented_objects() -> list[tuple[str, dict[str, Any]]]:
    """(where, object) for every complete canary.dev object in the docs' YAML blocks; `where`
    is `docs/<file>.md:<line>`."""
    found = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text()
        for block in _BLOCK.finditer(text):
            line = text.count("\n", 0, block.start()) + 2
            for document in yaml.safe_load_all(block.group(1)):
                if (
                    isinstance(document, dict)
                    and str(document.get("apiVersion", "")).startswith(f"{GROUP}/")
                    and document.get("kind") in KINDS
                ):
                    found.append((f"docs/{path.relative_to(DOCS)}:{line}", document))
    return found


OBJECTS = documented_objects()


def test_the_docs_hold_every_kind() -> None:
    assert {document["kind"] for _, document in OBJECTS} == set(KINDS)


@pytest.mark.parametrize(
    ("where", "document"), OBJECTS, ids=[f"{w}:{d['kind']}" for w, d in OBJECTS]
)
async def test_a_documented_object_is_admitted_and_checked_ok(
    api: ApiClient, namespace: str, where: str, document: dict[str, Any]
) -> None:
    await install_crds(api)
    manifest = {**document, "metadata": {**document["metadata"], "namespace": namespace}}
    problems = check_document(manifest, number=1, provider="linkerd").problems
    assert [p.text for p in problems] == [], where
    await CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        KINDS[manifest["kind"]],
        manifest,
        dry_run="All",
        field_validation="Strict",
    )
