"""Cases of the names the controller derives from a Canary: the Services named after the target
(or service.name), and the `-primary` copies of the target and its autoscaler."""

from __future__ import annotations

from canary.api.canary import (
    AUTOSCALER_NAME_RULE,
    TARGET_AS_SERVICE_NAME_RULE,
    TARGET_NAME_RULE,
)
from tests.admission_corpus.cases import Case, Change, Manifest, cause, in_spec, rule_cause


def _both(*changes: Change) -> Change:
    def change(manifest: Manifest) -> None:
        for one in changes:
            one(manifest)

    return change


NAME_CASES = [
    Case(
        "target-name-too-long-for-the-services",
        in_spec("targetRef.name", "p" * 56),
        [rule_cause("spec", TARGET_AS_SERVICE_NAME_RULE.message)],
        rule_message=TARGET_AS_SERVICE_NAME_RULE.message,
    ),
    Case(
        "target-name-with-a-dot-names-the-services",
        in_spec("targetRef.name", "podinfo.v2"),
        [rule_cause("spec", TARGET_AS_SERVICE_NAME_RULE.message)],
        rule_message=TARGET_AS_SERVICE_NAME_RULE.message,
    ),
    Case(
        "target-name-too-long-for-its-primary",
        _both(in_spec("service.name", "web"), in_spec("targetRef.name", "p" * 246)),
        [cause("spec.targetRef.name", f'Invalid value: "{"p" * 246}": {TARGET_NAME_RULE.message}')],
        rule_message=TARGET_NAME_RULE.message,
    ),
    Case(
        "autoscaler-name-too-long-for-its-copy",
        in_spec("autoscalerRef", {"kind": "HorizontalPodAutoscaler", "name": "h" * 246}),
        [
            cause(
                "spec.autoscalerRef.name",
                f'Invalid value: "{"h" * 246}": {AUTOSCALER_NAME_RULE.message}',
            )
        ],
        rule_message=AUTOSCALER_NAME_RULE.message,
    ),
    Case(
        "scaled-object-name-too-long-for-its-copy",
        in_spec("autoscalerRef", {"kind": "ScaledObject", "name": "s" * 246}),
        [
            cause(
                "spec.autoscalerRef.name",
                f'Invalid value: "{"s" * 246}": {AUTOSCALER_NAME_RULE.message}',
            )
        ],
        rule_message=AUTOSCALER_NAME_RULE.message,
    ),
    Case(
        "dotted-target-with-a-service-name",
        _both(in_spec("service.name", "web"), in_spec("targetRef.name", "podinfo.v2")),
        [],
    ),
]
