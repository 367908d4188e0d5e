"""What the API server admits (the examples, good AlertProviders), and `canary check`'s own
multi-error cases."""

from __future__ import annotations

from functools import partial

import yaml

from tests.admission_corpus.cases import (
    EXAMPLES,
    NOT_ALL_CHECKED,
    PLURALS,
    Case,
    Manifest,
    all_of,
    cause,
    drop_name,
    drop_target_name,
    example,
    in_analysis,
    in_spec,
    provider_case,
    rule_cause,
    typo_and_duplicate,
    whole_spec,
)


def _examples() -> list[Case]:
    """Every canary.dev object of examples/, as written."""
    found = []
    for path in sorted(EXAMPLES.glob("*/*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") in PLURALS:
                where, kind = f"{path.parent.name}/{path.name}", document["kind"]
                # A second file of one kind (canary-keda.yaml beside canary.yaml) names its case.
                variant = path.stem.removeprefix(kind.lower())
                found.append(
                    Case(
                        f"example-{path.parent.name}-{kind}{variant}",
                        None,
                        [],
                        kind=PLURALS[kind],
                        base=partial(example, where, kind),
                    )
                )
    return found


GOOD_PROVIDERS: list[Manifest] = [
    {"type": "slack", "address": "https://hooks.slack.test/services/T0/B0/x"},
    {
        "type": "msteams",
        "secretRef": {"name": "teams-webhook"},
        "proxy": "http://proxy.internal:3128",
    },
    {"type": "discord", "address": "https://discord.test/api/webhooks/1/x", "username": "rel"},
    {"type": "gchat", "secretRef": {"name": "gchat"}},
    {"type": "webhook", "address": "http://receiver.test:8080/alerts", "channel": "ops"},
]


# Flagger's NGINX tutorial Canary as a Flagger 1.x user has it: an ingressRef of an older
# API version (the router reads networking.k8s.io/v1 whatever it says, as Flagger does), and
# A/B by a header and a cookie.
NGINX_OF_FLAGGER = all_of(
    in_spec("provider", "nginx"),
    in_spec(
        "ingressRef", {"apiVersion": "networking.k8s.io/v1beta1", "kind": "Ingress", "name": "app"}
    ),
    in_analysis(
        stepWeight=None,
        maxWeight=None,
        stepWeights=None,
        iterations=10,
        match=[
            {"headers": {"x-canary": {"exact": "insider"}}},
            {"headers": {"cookie": {"exact": "canary"}}},
        ],
    ),
)

GOOD = [
    *_examples(),
    Case("nginx-of-flagger", NGINX_OF_FLAGGER, []),
    *(provider_case(f"provider-{spec['type']}", whole_spec(spec), []) for spec in GOOD_PROVIDERS),
]

# What `canary check`'s own tests feed it, beyond the cases above.
CHECK_CASES = [
    Case(
        "several-refusals-at-once",
        all_of(
            in_spec("provider", "consul"),
            in_spec("service.port", 98980),
            in_analysis(threshold=0, maxWeight="50"),
            drop_target_name,
        ),
        [
            cause(
                "spec.service.port",
                "Invalid value: 98980: spec.service.port in body should be less than or equal "
                "to 65535",
            ),
            cause("spec.targetRef.name", "Required value", "FieldValueRequired"),
            cause(
                "spec.analysis.threshold",
                "Invalid value: 0: spec.analysis.threshold in body should be greater than or "
                "equal to 1",
            ),
            cause(
                "spec.analysis.maxWeight",
                'Invalid value: "string": spec.analysis.maxWeight in body must be of type '
                'integer: "string"',
                "FieldValueTypeInvalid",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "unknown-field-and-duplicate-metric",
        typo_and_duplicate,
        [
            cause(
                "spec.analysis.metrics[3]",
                'Duplicate value: {"name":"request-success-rate"}',
                "FieldValueDuplicate",
            )
        ],
        unknown=("spec.analysis.stepweight",),
    ),
    Case(
        "cel-rules-not-run-beside-an-unsupported-value",
        all_of(in_spec("targetRef.kind", "StatefulSet"), in_analysis(maxWeight=5)),
        [
            cause(
                "spec.targetRef.kind",
                'Unsupported value: "StatefulSet": supported values: '
                '"Deployment", "DaemonSet", "Service"',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "cel-rules-run-beside-a-bound",
        all_of(in_spec("service.port", 0), in_analysis(maxWeight=5)),
        [
            cause(
                "spec.service.port",
                "Invalid value: 0: spec.service.port in body should be greater than or equal to 1",
            ),
            rule_cause("spec.analysis", "analysis.stepWeight must be <= analysis.maxWeight"),
        ],
    ),
    Case(
        "no-name",
        drop_name,
        [
            cause(
                "metadata.name",
                "Required value: name or generateName is required",
                "FieldValueRequired",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
]
