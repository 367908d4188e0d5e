"""AlertProviders the API server refuses, with its causes."""

from __future__ import annotations

from canary.api.alertprovider import (
    ADDRESS_XOR_SECRET_RULE,
    ALERT_ADDRESS_RULE,
    ALERT_PROXY_RULE,
)
from tests.admission_corpus.cases import (
    NOT_ALL_CHECKED,
    TYPES,
    cause,
    in_provider_spec,
    provider_case,
)

ALERT_PROVIDER_CASES = [
    provider_case(
        "neither-address-nor-secret",
        in_provider_spec(address=None),
        [cause("spec", f"Invalid value: {ADDRESS_XOR_SECRET_RULE.message}")],
        rule_message=ADDRESS_XOR_SECRET_RULE.message,
    ),
    provider_case(
        "both-address-and-secret",
        in_provider_spec(secretRef={"name": "slack-webhook"}),
        [cause("spec", f"Invalid value: {ADDRESS_XOR_SECRET_RULE.message}")],
        rule_message=ADDRESS_XOR_SECRET_RULE.message,
    ),
    provider_case(
        "address-without-scheme",
        in_provider_spec(address="hooks.slack.com/services/x"),
        [
            cause(
                "spec.address",
                f'Invalid value: "hooks.slack.com/services/x": {ALERT_ADDRESS_RULE.message}',
            )
        ],
        rule_message=ALERT_ADDRESS_RULE.message,
    ),
    provider_case(
        "proxy-not-a-url",
        in_provider_spec(proxy="proxy.internal:3128"),
        [
            cause(
                "spec.proxy",
                f'Invalid value: "proxy.internal:3128": {ALERT_PROXY_RULE.message}',
            )
        ],
        rule_message=ALERT_PROXY_RULE.message,
    ),
    provider_case(
        "unknown-type",
        in_provider_spec(type="rocket"),
        [
            cause(
                "spec.type",
                f'Unsupported value: "rocket": supported values: {TYPES}',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    provider_case(
        "no-type",
        in_provider_spec(type=None),
        [cause("spec.type", "Required value", "FieldValueRequired"), NOT_ALL_CHECKED],
    ),
    provider_case(
        "secret-name-not-a-name",
        in_provider_spec(address=None, secretRef={"name": "Slack_Webhook"}),
        [
            cause(
                "spec.secretRef.name",
                'Invalid value: "Slack_Webhook": spec.secretRef.name in body should match '
                "'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'",
            )
        ],
    ),
    provider_case(
        "empty-channel",
        in_provider_spec(channel=""),
        [
            cause(
                "spec.channel",
                'Invalid value: "": spec.channel in body should be at least 1 chars long',
            )
        ],
    ),
]
