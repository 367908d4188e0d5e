"""The admission corpus (`tests/admission_corpus/`) sent to the sandbox's API server, and
`canary check` held to what the API server says.

For every manifest of the corpus, the API server (a dry-run create with strict field validation,
as `kubectl apply` sends it) must give exactly the recorded causes, word for word (in any
order); `canary check` must then reach the same verdict, name the same fields and word what it
says as the API server does; and where a CEL rule refuses, the models must refuse with the same
message (the controller reports objects an older CRD admitted with it).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from canary.api import GROUP, VERSION, AlertProvider, Canary, MetricTemplate
from canary.cli.check.command import check_document
from tests.admission_corpus import CASES, NIL, PLURALS, Case, Cause, Manifest
from tests.integration.crds import install_crds

MODELS = {"Canary": Canary, "MetricTemplate": MetricTemplate, "AlertProvider": AlertProvider}
_UNKNOWN = re.compile(r'unknown field "([^"]+)"')


async def _answer(api: ApiClient, manifest: Manifest, *, validation: str) -> tuple[int, Any]:
    """The API server's status code and body for a dry-run create of `manifest`."""
    try:
        await CustomObjectsApi(api).create_namespaced_custom_object(
            GROUP,
            VERSION,
            "default",  # a dry run stores nothing
            PLURALS[manifest["kind"]],
            manifest,
            dry_run="All",
            field_validation=validation,
        )
    except ApiException as error:
        return error.status, json.loads(error.body or "null")
    return 201, None


async def _verdict(api: ApiClient, manifest: Manifest) -> tuple[list[Cause], tuple[str, ...]]:
    """The API server's causes for `manifest`, and the fields its strict decoding refuses
    (`kubectl apply` gets those first, and the causes once they are removed)."""
    code, answer = await _answer(api, manifest, validation="Strict")
    unknown: tuple[str, ...] = ()
    if code == 400:
        unknown = tuple(_UNKNOWN.findall(answer["message"]))
        assert unknown, answer
        code, answer = await _answer(api, manifest, validation="Ignore")
    if code == 201:
        return [], unknown
    assert code == 422, answer
    causes: list[Cause] = answer["details"]["causes"]
    return causes, unknown


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_the_api_server_and_canary_check_agree(api: ApiClient, case: Case) -> None:
    assert await install_crds(api)
    manifest = case.manifest()
    causes, unknown = await _verdict(api, manifest)
    assert unknown == case.unknown
    # In any order: the API server lists the causes of different fields in no fixed order.
    assert sorted(causes, key=json.dumps) == sorted(case.causes, key=json.dumps)

    problems = check_document(manifest, number=1, provider="linkerd").problems
    assert (not problems) == case.admitted, [p.text for p in problems]
    server_fields = {c["field"] for c in causes if c["field"] != NIL} | set(unknown)
    assert {p.path for p in problems} == server_fields, [p.text for p in problems]
    # And in the API server's words (an unknown field is worded as kubectl words it).
    said = [(p.path, p.message) for p in problems if p.path not in unknown]
    assert not [s for s in said if s not in {(c["field"], c["message"]) for c in causes}]

    if case.rule_message is not None:
        with pytest.raises(ValidationError, match=re.escape(case.rule_message)):
            MODELS[manifest["kind"]].model_validate(manifest)
