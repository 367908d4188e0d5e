"""`canary check` on the admission corpus (`tests/admission_corpus/`), offline: the verdict,
the fields and the words the API server gave for each manifest (recorded in the corpus, and held
to the real API server by tests/integration/test_admission_corpus.py)."""

from __future__ import annotations

import pytest

from canary.cli.check.command import check_document
from tests.admission_corpus import BASES, CASES, Case


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_check_names_the_fields_the_api_server_names(case: Case) -> None:
    problems = check_document(case.manifest(), number=1, provider="linkerd").problems
    assert (not problems) == case.admitted, [p.text for p in problems]
    assert {p.path for p in problems} == case.fields, [p.text for p in problems]
    recorded = {(c["field"], c["message"]) for c in case.causes}
    said = [(p.path, p.message) for p in problems if p.path not in case.unknown]
    assert not [s for s in said if s not in recorded]


def test_the_corpus_ids_are_unique_and_every_refused_case_changes_something() -> None:
    # A refused case whose change did nothing would "pass" for the wrong reason.
    assert len({case.id for case in CASES}) == len(CASES)
    for case in CASES:
        if not case.admitted:
            assert case.manifest() != (case.base or BASES[case.kind])(), case.id
    assert sum(not case.admitted for case in CASES) >= 60
