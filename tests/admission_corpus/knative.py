"""Cases of provider `knative`: a Knative Service as the target (no `service` needed), and the
combinations refused (a core Service as the target, knative with another kind, another provider
with a Knative Service, a Deployment without `service`)."""

from __future__ import annotations

from functools import partial

from canary.api.canary import KNATIVE_PROVIDER_RULE, KNATIVE_TARGET_RULE, SERVICE_REQUIRED_RULE
from tests.admission_corpus.cases import Case, Manifest, example, in_spec, rule_cause

KNATIVE = partial(example, "knative/canary.yaml", "Canary")


def _without_service(manifest: Manifest) -> None:
    del manifest["spec"]["service"]


KNATIVE_CASES = [
    Case(
        "knative-canary-with-a-service-block",  # Flagger ignores it for Knative; so do we
        in_spec("service", {"port": 9898}),
        [],
        base=KNATIVE,
    ),
    Case(
        "knative-target-of-the-core-api-version",
        in_spec("targetRef.apiVersion", "v1"),
        [rule_cause("spec.targetRef", KNATIVE_TARGET_RULE.message)],
        rule_message=KNATIVE_TARGET_RULE.message,
        base=KNATIVE,
    ),
    Case(
        "knative-target-with-another-provider",
        in_spec("provider", "linkerd"),
        [rule_cause("spec", KNATIVE_PROVIDER_RULE.message)],
        rule_message=KNATIVE_PROVIDER_RULE.message,
        base=KNATIVE,
    ),
    Case(
        "deployment-target-with-provider-knative",
        in_spec("provider", "knative"),
        [rule_cause("spec", KNATIVE_PROVIDER_RULE.message)],
        rule_message=KNATIVE_PROVIDER_RULE.message,
    ),
    Case(
        "deployment-target-without-service",
        _without_service,
        [rule_cause("spec", SERVICE_REQUIRED_RULE.message)],
        rule_message=SERVICE_REQUIRED_RULE.message,
    ),
]
