"""The admission corpus: canary.dev manifests, each with what the API server says of it.

Every case is a manifest (an example, changed by the case) and the causes of the API server's
refusal word for word, or none when it admits the manifest. One table serves two tests:
`tests/integration/test_admission_corpus.py` sends every manifest to the sandbox's API server
(a dry-run create, strict field validation) and requires exactly these causes, then requires
`canary check` to reach the same verdict, name the same fields and word them the same;
`tests/unit/cli/test_check_corpus.py` does the second half offline, against the causes recorded
here. A case added to `CASES` is checked both ways.
"""

from __future__ import annotations

from tests.admission_corpus.apisix import APISIX_CASES
from tests.admission_corpus.canaries import CANARY_AND_TEMPLATE_CASES
from tests.admission_corpus.cases import (
    BASES,
    NIL,
    PLURALS,
    Case,
    Cause,
    Manifest,
    cause,
    example,
    provider,
    rule_cause,
)
from tests.admission_corpus.good import CHECK_CASES, GOOD, GOOD_PROVIDERS
from tests.admission_corpus.istio import ISTIO_CASES
from tests.admission_corpus.knative import KNATIVE_CASES
from tests.admission_corpus.mid_release import (
    DURATION_CASES,
    METADATA_CASES,
    TARGET_PORT_CASES,
    URL_CASES,
)
from tests.admission_corpus.names import NAME_CASES
from tests.admission_corpus.providers import ALERT_PROVIDER_CASES
from tests.admission_corpus.traefik import TRAEFIK_CASES

CASES = [
    *GOOD,
    *CANARY_AND_TEMPLATE_CASES,
    *ALERT_PROVIDER_CASES,
    *CHECK_CASES,
    *DURATION_CASES,
    *METADATA_CASES,
    *URL_CASES,
    *TARGET_PORT_CASES,
    *NAME_CASES,
    *ISTIO_CASES,
    *TRAEFIK_CASES,
    *APISIX_CASES,
    *KNATIVE_CASES,
]

__all__ = [
    "BASES",
    "CASES",
    "GOOD_PROVIDERS",
    "NIL",
    "PLURALS",
    "Case",
    "Cause",
    "Manifest",
    "cause",
    "example",
    "provider",
    "rule_cause",
]
