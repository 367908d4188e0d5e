"""Flagger's tutorials as written (tests/fixtures/flagger_tutorials/, apiVersion changed only):
every Canary and MetricTemplate they apply is admitted by the sandbox's real API server as
written (nothing pruned) and `canary check` finds nothing wrong with it, with the provider
Flagger is installed with for that tutorial. tests/e2e/test_flagger_tutorials.py releases them.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi

from canary.api.base import GROUP, VERSION
from canary.cli.check.command import check_document
from tests.integration.crds import install_crds
from tests.integration.flagger_tutorials import FIXTURES, TUTORIALS, nginx_ab_testing

pytestmark = pytest.mark.integration

PLURALS = {"Canary": "canaries", "MetricTemplate": "metrictemplates"}


def _ours(tutorial: str, namespace: str) -> list[dict[str, Any]]:
    """The tutorial's objects of this project's kinds, all in `namespace`."""
    if tutorial == "nginx-ab-testing":
        return [nginx_ab_testing(namespace)]
    documents = TUTORIALS[tutorial].documents(namespace)
    ours = [d for d in documents if d["kind"] in PLURALS]
    for document in ours:  # the Gateway API tutorial's templates live in flagger-system
        document["metadata"]["namespace"] = namespace
    return ours


def test_every_fixture_names_its_source_and_changes_only_the_api_version() -> None:
    for path in sorted(FIXTURES.glob("*.yaml")):
        text = path.read_text()
        header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        source = {"nginx-ab-testing": "nginx-progressive-delivery"}.get(path.stem, path.stem)
        assert f"fluxcd/flagger docs/gitbook/tutorials/{source}.md" in header, path.name
        assert re.search(r"at commit [0-9a-f]{40}", header), path.name
        assert "flagger.app/" not in text.replace("flagger.app/v1beta1 -> ", ""), path.name
    assert {p.stem for p in FIXTURES.glob("*.yaml")} == {*TUTORIALS, "nginx-ab-testing"}


@pytest.mark.parametrize("tutorial", [*TUTORIALS, "nginx-ab-testing"])
async def test_a_tutorials_objects_are_admitted_as_written_and_checked_clean(
    api: ApiClient, namespace: str, tutorial: str
) -> None:
    await install_crds(api)
    provider = TUTORIALS.get(tutorial, TUTORIALS["nginx-progressive-delivery"]).mesh_provider
    for number, document in enumerate(_ours(tutorial, namespace), start=1):
        plural = PLURALS[document["kind"]]
        stored = await CustomObjectsApi(api).create_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, document, field_validation="Strict"
        )
        assert stored["spec"] == document["spec"], f"{document['kind']}: nothing pruned"
        result = check_document(document, number=number, provider=provider)
        assert result.problems == (), (document["kind"], result.problems)
