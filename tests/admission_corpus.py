"""The admission corpus: canary.dev manifests, each with what the API server says of it.

Every case is a manifest (an example, changed by the case) and the causes of the API server's
refusal word for word, or none when it admits the manifest. One table serves two tests:
`tests/integration/test_admission_corpus.py` sends every manifest to the sandbox's API server
(a dry-run create, strict field validation) and requires exactly these causes, and then requires
`canary check` to reach the same verdict and name the same fields; `tests/unit/cli/
test_check_corpus.py` does the second half offline, against the causes recorded here. A case
added here is checked both ways.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import yaml

from canary.api import GROUP, VERSION
from canary.api.alertprovider import (
    ADDRESS_XOR_SECRET_RULE,
    ALERT_ADDRESS_RULE,
    ALERT_PROXY_RULE,
)
from canary.api.analysis import MATCH_RULE, MIRROR_RULE
from canary.api.canary import SCALER_REPLICAS_RULE

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NIL = "<nil>"  # the field of a cause that names none
NOT_ALL_CHECKED = {
    "reason": "FieldValueInvalid",
    "message": "Invalid value: null: some validation rules were not checked because the object "
    "was invalid; correct the existing errors to complete validation",
    "field": NIL,
}

Manifest = dict[str, Any]
Cause = dict[str, str]
Change = Callable[[Manifest], None]
PLURALS = {
    "Canary": "canaries",
    "MetricTemplate": "metrictemplates",
    "AlertProvider": "alertproviders",
}


def example(path: str, kind: str) -> Manifest:
    """The `kind` object of the example file `path` (under examples/), a fresh copy."""
    return copy.deepcopy(_example(path, kind))


@cache
def _example(path: str, kind: str) -> Manifest:
    documents = yaml.safe_load_all((EXAMPLES / path).read_text())
    found: Manifest = next(d for d in documents if d and d.get("kind") == kind)
    return found


def provider(**spec: Any) -> Manifest:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AlertProvider",
        "metadata": {"name": "on-call"},
        "spec": {"type": "slack", "address": "https://hooks.slack.test/services/T0/B0/x", **spec},
    }


BASES: dict[str, Callable[[], Manifest]] = {
    "canaries": lambda: example("podinfo/canary.yaml", "Canary"),
    "metrictemplates": lambda: example("podinfo/metrictemplate.yaml", "MetricTemplate"),
    "alertproviders": provider,
}


@dataclass(frozen=True)
class Case:
    """A manifest (the base of `kind`, changed by `change`) and what the API server says of it."""

    id: str
    change: Change | None
    causes: list[Cause]  # the causes of its 422, in order; [] when it is admitted
    kind: str = "canaries"  # the plural of the kind, which chooses the base manifest
    rule_message: str | None = None  # a CEL rule's message; the models must say the same
    # Fields strict decoding refuses (HTTP 400, before any validation): the API server gives
    # `causes` once they are removed.
    unknown: tuple[str, ...] = ()
    base: Callable[[], Manifest] | None = None  # another base than the kind's

    def manifest(self) -> Manifest:
        manifest = (self.base or BASES[self.kind])()
        if self.change is not None:
            self.change(manifest)
        return manifest

    @property
    def admitted(self) -> bool:
        return not self.causes and not self.unknown

    @property
    def fields(self) -> set[str]:
        """Every field the API server names, in its causes or in its strict-decoding error."""
        return {c["field"] for c in self.causes if c["field"] != NIL} | set(self.unknown)


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> Cause:
    return {"reason": reason, "message": message, "field": field}


def rule_cause(field: str, message: str) -> Cause:
    """How the API server reports a failed CEL rule on an object or list item."""
    return cause(field, f"Invalid value: {message}")


def _analysis(**fields: Any) -> Change:
    """Set (or, with None, remove) fields of spec.analysis."""

    def change(manifest: Manifest) -> None:
        for name, value in fields.items():
            if value is None:
                manifest["spec"]["analysis"].pop(name, None)
            else:
                manifest["spec"]["analysis"][name] = value

    return change


def _spec(path: str, value: Any) -> Change:
    """Set the field at the dotted `path` under spec."""

    def change(manifest: Manifest) -> None:
        *parents, last = path.split(".")
        node = manifest["spec"]
        for name in parents:
            node = node[name]
        node[last] = value

    return change


def _set(**fields: Any) -> Change:
    """Set (or, with None, remove) fields of spec."""

    def change(manifest: Manifest) -> None:
        for name, value in fields.items():
            if value is None:
                manifest["spec"].pop(name, None)
            else:
                manifest["spec"][name] = value

    return change


def _metric(**fields: Any) -> dict[str, Any]:
    return {"name": "error-rate", "thresholdRange": {"max": 1}, **fields}


def _webhook(**fields: Any) -> dict[str, Any]:
    return {"name": "load-test", "url": "http://loadtester.test/", **fields}


def _provider_case(
    id: str,  # noqa: A002 - the name Case uses
    change: Change,
    causes: list[Cause],
    rule_message: str | None = None,
) -> Case:
    return Case(id, change, causes, kind="alertproviders", rule_message=rule_message)


PATTERN = "'^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$'"
INTERVAL = 'analysis.interval must be a duration between 1s and 1h, e.g. "30s"'
ONE_MODE = (
    "exactly one of analysis.stepWeight, analysis.stepWeights or analysis.iterations must be set"
)
SOURCE = (
    "a metric needs exactly one of query or templateRef; only request-success-rate and "
    "request-duration may have neither"
)
WEBHOOK_URL = "webhook url must be an absolute http(s) URL"
WEBHOOK_TYPES = (
    '"confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase", '
    '"confirm-promotion", "post-rollout", "rollback", "event"'
)
PROVIDERS = (
    '"linkerd", "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3", "smi:v1alpha4", "kubernetes", '
    '"gatewayapi:v1", "gatewayapi:v1beta1"'
)

CANARY_AND_TEMPLATE_CASES = [
    Case(
        "interval-with-trailing-garbage",
        _analysis(interval="5mfoo"),
        [
            cause(
                "spec.analysis.interval",
                f'Invalid value: "5mfoo": spec.analysis.interval in body should match {PATTERN}',
            ),
            cause("spec.analysis.interval", f'Invalid value: "5mfoo": {INTERVAL}'),
        ],
    ),
    Case(
        "interval-zero",
        _analysis(interval="0s"),
        [cause("spec.analysis.interval", f'Invalid value: "0s": {INTERVAL}')],
        rule_message=INTERVAL,
    ),
    Case(
        "interval-over-an-hour",
        _analysis(interval="2h"),
        [cause("spec.analysis.interval", f'Invalid value: "2h": {INTERVAL}')],
        rule_message=INTERVAL,
    ),
    Case(
        "threshold-zero",
        _analysis(threshold=0),
        [
            cause(
                "spec.analysis.threshold",
                "Invalid value: 0: spec.analysis.threshold in body should be greater than or "
                "equal to 1",
            )
        ],
    ),
    Case(
        "threshold-float",
        _analysis(threshold=2.5),
        [
            cause(
                "spec.analysis.threshold",
                'Invalid value: "number": spec.analysis.threshold in body must be of type '
                'integer: "number"',
                reason="FieldValueTypeInvalid",
            ),
            cause(
                "<nil>",
                'Invalid value: "": Checked value must be of type integer (default format) in '
                "spec.analysis.threshold",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "threshold-string",
        _analysis(threshold="3"),
        [
            cause(
                "spec.analysis.threshold",
                'Invalid value: "string": spec.analysis.threshold in body must be of type '
                'integer: "string"',
                reason="FieldValueTypeInvalid",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "step-weight-over-100",
        _analysis(stepWeight=101, maxWeight=None),
        [
            cause(
                "spec.analysis.stepWeight",
                "Invalid value: 101: spec.analysis.stepWeight in body should be less than or "
                "equal to 100",
            )
        ],
    ),
    Case(
        "step-weight-above-max-weight",
        _analysis(maxWeight=5),
        [rule_cause("spec.analysis", "analysis.stepWeight must be <= analysis.maxWeight")],
        rule_message="analysis.stepWeight must be <= analysis.maxWeight",
    ),
    Case(
        "step-weights-descending",
        _analysis(stepWeight=None, stepWeights=[30, 10]),
        [
            rule_cause(
                "spec.analysis.stepWeights", "analysis.stepWeights must be in ascending order"
            )
        ],
        rule_message="analysis.stepWeights must be in ascending order",
    ),
    Case(
        "step-weights-repeated",
        _analysis(stepWeight=None, stepWeights=[10, 10, 20]),
        [cause("spec.analysis.stepWeights[1]", "Duplicate value: 10", "FieldValueDuplicate")],
    ),
    Case(
        "no-step-mode",
        _analysis(stepWeight=None),
        [rule_cause("spec.analysis", ONE_MODE)],
        rule_message=ONE_MODE,
    ),
    Case(
        "step-weight-and-iterations",
        _analysis(iterations=5),
        [rule_cause("spec.analysis", ONE_MODE)],
        rule_message=ONE_MODE,
    ),
    Case(
        "duplicate-metric-names",
        _analysis(metrics=[_metric(query="up"), _metric(query="up")]),
        [
            cause(
                "spec.analysis.metrics[1]",
                'Duplicate value: {"name":"error-rate"}',
                "FieldValueDuplicate",
            )
        ],
    ),
    Case(
        "threshold-range-inverted",
        _analysis(metrics=[_metric(query="up", thresholdRange={"min": 5, "max": 1})]),
        [
            rule_cause(
                "spec.analysis.metrics[0].thresholdRange",
                "thresholdRange.min must be <= thresholdRange.max",
            )
        ],
        rule_message="thresholdRange.min must be <= thresholdRange.max",
    ),
    Case(
        "metric-with-query-and-template",
        _analysis(metrics=[_metric(query="up", templateRef={"name": "error-rate"})]),
        [rule_cause("spec.analysis.metrics[0]", SOURCE)],
        rule_message=SOURCE,
    ),
    Case(
        "custom-metric-without-query",
        _analysis(metrics=[_metric()]),
        [rule_cause("spec.analysis.metrics[0]", SOURCE)],
        rule_message=SOURCE,
    ),
    Case(
        "metric-without-range",
        _analysis(metrics=[{"name": "request-success-rate"}]),
        [
            rule_cause(
                "spec.analysis.metrics[0]", "a metric needs a thresholdRange with min, max or both"
            )
        ],
        rule_message="a metric needs a thresholdRange with min, max or both",
    ),
    Case(
        "template-variable-injection",
        _analysis(
            metrics=[
                _metric(templateRef={"name": "t"}, templateVariables={"v": '"} or vector(1) #'})
            ]
        ),
        [
            cause(
                "spec.analysis.metrics[0].templateVariables.v",
                'Invalid value: "\\"} or vector(1) #": spec.analysis.metrics[0]'
                ".templateVariables.v in body should match '^[A-Za-z0-9_.:/-]*$'",
            )
        ],
    ),
    Case(
        "too-many-template-variables",
        _analysis(
            metrics=[
                _metric(
                    templateRef={"name": "t"}, templateVariables={f"v{i}": "x" for i in range(17)}
                )
            ]
        ),
        [
            cause(
                "spec.analysis.metrics[0].templateVariables",
                "Too many: 17: must have at most 16 items",
                "FieldValueTooMany",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "webhook-ftp-url",
        _analysis(webhooks=[_webhook(url="ftp://loadtester.test/")]),
        [
            cause(
                "spec.analysis.webhooks[0].url",
                f'Invalid value: "ftp://loadtester.test/": {WEBHOOK_URL}',
            )
        ],
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-relative-url",
        _analysis(webhooks=[_webhook(url="/gate/approve")]),
        [cause("spec.analysis.webhooks[0].url", f'Invalid value: "/gate/approve": {WEBHOOK_URL}')],
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-too-long",
        _analysis(webhooks=[_webhook(url="http://loadtester.test/" + "a" * 3000)]),
        [
            cause(
                "spec.analysis.webhooks[0].url",
                "Too long: may not be more than 2048 bytes",
                "FieldValueTooLong",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "webhook-timeout-not-shorter-than-interval",
        _analysis(webhooks=[_webhook(timeout="30s")]),
        [rule_cause("spec.analysis", "webhook timeout must be shorter than analysis.interval")],
        rule_message="webhook timeout must be shorter than analysis.interval",
    ),
    Case(
        "webhook-retries-over-5",
        _analysis(webhooks=[_webhook(retries=10)]),
        [
            cause(
                "spec.analysis.webhooks[0].retries",
                "Invalid value: 10: spec.analysis.webhooks[0].retries in body should be less "
                "than or equal to 5",
            )
        ],
    ),
    Case(
        "webhook-unknown-type",
        _analysis(webhooks=[_webhook(type="pre-promotion")]),
        [
            cause(
                "spec.analysis.webhooks[0].type",
                f'Unsupported value: "pre-promotion": supported values: {WEBHOOK_TYPES}',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "target-kind-statefulset",
        _spec("targetRef.kind", "StatefulSet"),
        [
            cause(
                "spec.targetRef.kind",
                'Unsupported value: "StatefulSet": supported values: "Deployment"',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "service-port-out-of-range",
        _spec("service.port", 70000),
        [
            cause(
                "spec.service.port",
                "Invalid value: 70000: spec.service.port in body should be less than or equal "
                "to 65535",
            )
        ],
    ),
    Case(
        "progress-deadline-too-short",
        _spec("progressDeadlineSeconds", 5),
        [
            cause(
                "spec.progressDeadlineSeconds",
                "Invalid value: 5: spec.progressDeadlineSeconds in body should be greater than "
                "or equal to 10",
            )
        ],
    ),
    Case(
        "unknown-provider",
        _spec("provider", "istio"),
        [
            cause(
                "spec.provider",
                f'Unsupported value: "istio": supported values: {PROVIDERS}',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "match-without-iterations",
        _spec("analysis.match", [{"headers": {"x-canary": {"exact": "insider"}}}]),
        [rule_cause("spec.analysis", MATCH_RULE.message)],
        rule_message=MATCH_RULE.message,
    ),
    Case(
        "mirror-without-iterations",
        _spec("analysis.mirror", value=True),
        [rule_cause("spec.analysis", MIRROR_RULE.message)],
        rule_message=MIRROR_RULE.message,
    ),
    Case(
        "metrics-server-not-a-url",
        _spec("metricsServer", "prometheus:9090"),
        [
            cause(
                "spec.metricsServer",
                'Invalid value: "prometheus:9090": metricsServer must be an absolute http(s) URL',
            )
        ],
        rule_message="metricsServer must be an absolute http(s) URL",
    ),
    Case(
        "primary-scaler-replicas-min-above-max",
        _spec(
            "autoscalerRef",
            {
                "kind": "HorizontalPodAutoscaler",
                "name": "podinfo",
                "primaryScalerReplicas": {"minReplicas": 5, "maxReplicas": 2},
            },
        ),
        [rule_cause("spec.autoscalerRef.primaryScalerReplicas", SCALER_REPLICAS_RULE.message)],
        rule_message=SCALER_REPLICAS_RULE.message,
    ),
    Case(
        "template-provider-not-prometheus",
        _spec("provider.type", "datadog"),
        [
            cause(
                "spec.provider.type",
                'Unsupported value: "datadog": supported values: "prometheus"',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
        kind="metrictemplates",
    ),
    Case(
        "template-address-not-a-url",
        _spec("provider.address", "prometheus.monitoring:9090"),
        [
            cause(
                "spec.provider.address",
                'Invalid value: "prometheus.monitoring:9090": provider address must be an '
                "absolute http(s) URL",
            )
        ],
        kind="metrictemplates",
        rule_message="provider address must be an absolute http(s) URL",
    ),
]


TYPES = '"slack", "msteams", "discord", "gchat", "webhook"'

ALERT_PROVIDER_CASES = [
    _provider_case(
        "neither-address-nor-secret",
        _set(address=None),
        [cause("spec", f"Invalid value: {ADDRESS_XOR_SECRET_RULE.message}")],
        rule_message=ADDRESS_XOR_SECRET_RULE.message,
    ),
    _provider_case(
        "both-address-and-secret",
        _set(secretRef={"name": "slack-webhook"}),
        [cause("spec", f"Invalid value: {ADDRESS_XOR_SECRET_RULE.message}")],
        rule_message=ADDRESS_XOR_SECRET_RULE.message,
    ),
    _provider_case(
        "address-without-scheme",
        _set(address="hooks.slack.com/services/x"),
        [
            cause(
                "spec.address",
                f'Invalid value: "hooks.slack.com/services/x": {ALERT_ADDRESS_RULE.message}',
            )
        ],
        rule_message=ALERT_ADDRESS_RULE.message,
    ),
    _provider_case(
        "proxy-not-a-url",
        _set(proxy="proxy.internal:3128"),
        [
            cause(
                "spec.proxy",
                f'Invalid value: "proxy.internal:3128": {ALERT_PROXY_RULE.message}',
            )
        ],
        rule_message=ALERT_PROXY_RULE.message,
    ),
    _provider_case(
        "unknown-type",
        _set(type="rocket"),
        [
            cause(
                "spec.type",
                f'Unsupported value: "rocket": supported values: {TYPES}',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    _provider_case(
        "no-type",
        _set(type=None),
        [cause("spec.type", "Required value", "FieldValueRequired"), NOT_ALL_CHECKED],
    ),
    _provider_case(
        "secret-name-not-a-name",
        _set(address=None, secretRef={"name": "Slack_Webhook"}),
        [
            cause(
                "spec.secretRef.name",
                'Invalid value: "Slack_Webhook": spec.secretRef.name in body should match '
                "'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'",
            )
        ],
    ),
    _provider_case(
        "empty-channel",
        _set(channel=""),
        [
            cause(
                "spec.channel",
                'Invalid value: "": spec.channel in body should be at least 1 chars long',
            )
        ],
    ),
]


def _examples() -> list[Case]:
    """Every canary.dev object of examples/, as written."""
    found = []
    for path in sorted(EXAMPLES.glob("*/*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") in PLURALS:
                where, kind = f"{path.parent.name}/{path.name}", document["kind"]
                found.append(
                    Case(
                        f"example-{path.parent.name}-{kind}",
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


def _whole_spec(spec: Manifest) -> Change:
    def change(manifest: Manifest) -> None:
        manifest["spec"] = copy.deepcopy(spec)

    return change


def _metadata(**fields: Any) -> Change:
    """Set fields of metadata."""

    def change(manifest: Manifest) -> None:
        manifest["metadata"].update(copy.deepcopy(fields))

    return change


def _all(*changes: Change) -> Change:
    def change(manifest: Manifest) -> None:
        for each in changes:
            each(manifest)

    return change


def _drop_name(manifest: Manifest) -> None:
    del manifest["metadata"]["name"]


def _drop_target_name(manifest: Manifest) -> None:
    del manifest["spec"]["targetRef"]["name"]


def _typo_and_duplicate(manifest: Manifest) -> None:
    analysis = manifest["spec"]["analysis"]
    analysis["stepweight"] = 5  # the typo that would otherwise do nothing
    analysis["metrics"].append(copy.deepcopy(analysis["metrics"][0]))


GOOD = [
    *_examples(),
    *(_provider_case(f"provider-{spec['type']}", _whole_spec(spec), []) for spec in GOOD_PROVIDERS),
]

# What `canary check`'s own tests feed it, beyond the cases above.
CHECK_CASES = [
    Case(
        "several-refusals-at-once",
        _all(
            _spec("provider", "istio"),
            _spec("service.port", 98980),
            _analysis(threshold=0, maxWeight="50"),
            _drop_target_name,
        ),
        [
            cause(
                "spec.service.port",
                "Invalid value: 98980: spec.service.port in body should be less than or equal "
                "to 65535",
            ),
            cause("spec.targetRef.name", "Required value", "FieldValueRequired"),
            cause(
                "spec.provider",
                f'Unsupported value: "istio": supported values: {PROVIDERS}',
                "FieldValueNotSupported",
            ),
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
        _typo_and_duplicate,
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
        _all(_spec("provider", "istio"), _analysis(maxWeight=5)),
        [
            cause(
                "spec.provider",
                f'Unsupported value: "istio": supported values: {PROVIDERS}',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "cel-rules-run-beside-a-bound",
        _all(_spec("service.port", 0), _analysis(maxWeight=5)),
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
        _drop_name,
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

# Issue 9, item 9: what fails only mid-release unless admission refuses it, and where
# `canary check` and the API server used to disagree.
METRIC_INTERVAL = 'metric interval must be a duration above 0s and at most 24h, e.g. "1m"'
PROMETHEUS_PATTERN = "'^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$'"
WEBHOOK_TIMEOUT = 'webhook timeout must be longer than 0s, e.g. "10s"'
TARGET_PORT = (
    "service.targetPort must be a port number (1 to 65535) or a container port's name (at most "
    "15 characters: a-z, 0-9 and '-', with at least one letter)"
)
ANNOTATIONS_LIMIT = 256 * 1024
NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
    "for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
LABEL_VALUE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def _metric_interval(interval: str) -> Change:
    return _analysis(
        metrics=[
            {"name": "request-success-rate", "interval": interval, "thresholdRange": {"min": 99}}
        ]
    )


def _interval_refused(interval: str) -> list[Cause]:
    return [
        cause(
            "spec.analysis.metrics[0].interval",
            f"Invalid value: {_quoted(interval)}: {METRIC_INTERVAL}",
        )
    ]


def _interval_malformed(interval: str) -> list[Cause]:
    field = "spec.analysis.metrics[0].interval"
    return [
        cause(
            field,
            f"Invalid value: {_quoted(interval)}: {field} in body should match "
            f"{PROMETHEUS_PATTERN}",
        ),
        *_interval_refused(interval),
    ]


def _quoted(value: str) -> str:
    return json.dumps(value)


def _target_port(port: int | str) -> Change:
    return _spec("service.targetPort", port)


def _target_port_refused(port: int | str) -> list[Cause]:
    return [cause("spec.service.targetPort", f"Invalid value: {json.dumps(port)}: {TARGET_PORT}")]


def _url_refused(field: str, url: str, message: str) -> list[Cause]:
    return [cause(field, f"Invalid value: {_quoted(url)}: {message}")]


CRLF_URL = "http://loadtester.test/\r\nX-Injected: 1"
SPACE_HOST_URL = "http://load tester.test/"

DURATION_CASES = [
    Case(
        "metric-interval-zero",
        _metric_interval("0s"),
        _interval_refused("0s"),
        rule_message=METRIC_INTERVAL,
    ),
    Case(
        "metric-interval-zero-ms",
        _metric_interval("0ms"),
        _interval_refused("0ms"),
        rule_message=METRIC_INTERVAL,
    ),
    Case(
        "metric-interval-over-a-day",
        _metric_interval("25h"),
        _interval_refused("25h"),
        rule_message=METRIC_INTERVAL,
    ),
    Case(
        "metric-interval-over-a-day-in-minutes",
        _metric_interval("1441m"),
        _interval_refused("1441m"),
        rule_message=METRIC_INTERVAL,
    ),
    Case("metric-interval-a-day", _metric_interval("24h"), []),
    Case("metric-interval-a-day-in-minutes", _metric_interval("1440m"), []),
    Case("metric-interval-milliseconds", _metric_interval("500ms"), []),
    Case("metric-interval-hours-and-minutes", _metric_interval("1h30m"), []),
    Case("metric-interval-fraction", _metric_interval("1.5m"), _interval_malformed("1.5m")),
    Case(
        "metric-interval-units-out-of-order",
        _metric_interval("30s1m"),
        _interval_malformed("30s1m"),
    ),
    Case(
        "webhook-timeout-zero",
        _analysis(webhooks=[_webhook(timeout="0s")]),
        [cause("spec.analysis.webhooks[0].timeout", f'Invalid value: "0s": {WEBHOOK_TIMEOUT}')],
        rule_message=WEBHOOK_TIMEOUT,
    ),
    Case("webhook-timeout-short", _analysis(webhooks=[_webhook(timeout="500ms")]), []),
]

METADATA_CASES = [
    Case(
        "name-over-253-characters",
        _metadata(name="a" * 254),
        [
            cause(
                "metadata.name",
                f'Invalid value: "{"a" * 254}": must be no more than 253 characters',
            )
        ],
    ),
    Case("name-of-253-characters", _metadata(name="a" * 253), [], kind="metrictemplates"),
    Case("generate-name-only", _all(_drop_name, _metadata(generateName="podinfo-")), []),
    Case(
        "labels-and-annotations-with-prefixes",
        _metadata(
            labels={"app.kubernetes.io/name": "podinfo", "team": ""},
            annotations={"Example.COM/Owner": "Team A\nrotation 2"},
        ),
        [],
    ),
    Case(
        "name-with-capitals",
        _metadata(name="PodInfo"),
        [
            cause(
                "metadata.name",
                f'Invalid value: "PodInfo": {SUBDOMAIN}',
            )
        ],
    ),
    Case(
        "annotations-over-256-kib",
        _metadata(annotations={"note": "x" * ANNOTATIONS_LIMIT}),
        [
            cause(
                "metadata.annotations",
                f"Too long: may not be more than {ANNOTATIONS_LIMIT} bytes",
                "FieldValueTooLong",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "cel-rules-not-run-beside-oversized-annotations",
        _all(
            _metadata(annotations={"note": "x" * ANNOTATIONS_LIMIT}),
            _analysis(webhooks=[_webhook(url="ftp://loadtester.test/")]),
        ),
        [
            cause(
                "metadata.annotations",
                f"Too long: may not be more than {ANNOTATIONS_LIMIT} bytes",
                "FieldValueTooLong",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "annotations-of-256-kib",
        _metadata(annotations={"note": "x" * (ANNOTATIONS_LIMIT - len("note"))}),
        [],
    ),
    Case(
        "annotation-key-not-a-qualified-name",
        _metadata(annotations={"not a key": "x"}),
        [cause("metadata.annotations", f'Invalid value: "not a key": {NAME_PART}')],
    ),
    Case(
        "label-value-with-a-space",
        _metadata(labels={"app": "pod info"}),
        [cause("metadata.labels", f'Invalid value: "pod info": {LABEL_VALUE}')],
    ),
]

URL_CASES = [
    Case(
        "webhook-url-with-crlf",
        _analysis(webhooks=[_webhook(url=CRLF_URL)]),
        _url_refused("spec.analysis.webhooks[0].url", CRLF_URL, WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-a-space-in-the-host",
        _analysis(webhooks=[_webhook(url=SPACE_HOST_URL)]),
        _url_refused("spec.analysis.webhooks[0].url", SPACE_HOST_URL, WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-a-named-port",
        _analysis(webhooks=[_webhook(url="http://loadtester.test:http/")]),
        _url_refused("spec.analysis.webhooks[0].url", "http://loadtester.test:http/", WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-a-bad-escape",
        _analysis(webhooks=[_webhook(url="http://loadtester.test/%zz")]),
        _url_refused("spec.analysis.webhooks[0].url", "http://loadtester.test/%zz", WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-two-ports",
        _analysis(webhooks=[_webhook(url="http://loadtester.test:80:80/")]),
        _url_refused("spec.analysis.webhooks[0].url", "http://loadtester.test:80:80/", WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-query-port-and-user",
        _analysis(
            webhooks=[_webhook(url="https://user:pw@loadtester.test:8443/gate/check?x=a%20b#f")]
        ),
        [],
    ),
    Case(
        "webhook-url-ipv6",
        _analysis(webhooks=[_webhook(url="http://[::1]:8080/")]),
        [],
    ),
    Case(
        "metrics-server-with-lf",
        _spec("metricsServer", "http://prometheus.test:9090\n"),
        _url_refused(
            "spec.metricsServer",
            "http://prometheus.test:9090\n",
            "metricsServer must be an absolute http(s) URL",
        ),
        rule_message="metricsServer must be an absolute http(s) URL",
    ),
    Case(
        "template-address-with-crlf",
        _spec("provider.address", "http://prometheus.test:9090/\r\n"),
        _url_refused(
            "spec.provider.address",
            "http://prometheus.test:9090/\r\n",
            "provider address must be an absolute http(s) URL",
        ),
        kind="metrictemplates",
        rule_message="provider address must be an absolute http(s) URL",
    ),
    Case(
        "alert-address-with-crlf",
        _set(address="https://hooks.slack.test/services/x\r\n"),
        _url_refused(
            "spec.address", "https://hooks.slack.test/services/x\r\n", ALERT_ADDRESS_RULE.message
        ),
        kind="alertproviders",
        rule_message=ALERT_ADDRESS_RULE.message,
    ),
    Case(
        "alert-proxy-with-tab",
        _set(proxy="http://proxy.internal:3128\t"),
        _url_refused("spec.proxy", "http://proxy.internal:3128\t", ALERT_PROXY_RULE.message),
        kind="alertproviders",
        rule_message=ALERT_PROXY_RULE.message,
    ),
]

BAD_TARGET_PORTS: list[tuple[str, int | str]] = [
    ("zero", 0),
    ("over-65535", 65536),
    ("empty-name", ""),
    ("digits-as-a-string", "8080"),
    ("name-of-16", "http-metrics-001"),
    ("name-with-double-hyphen", "http--metrics"),
    ("name-starting-with-hyphen", "-http"),
    ("name-with-capitals", "HTTP"),
]
TARGET_PORT_CASES = [
    Case("target-port-number", _target_port(9898), []),
    Case("target-port-name", _target_port("http"), []),
    Case("target-port-name-of-15", _target_port("http-metrics-01"), []),
    *(
        Case(
            f"target-port-{label}",
            _target_port(port),
            _target_port_refused(port),
            rule_message=TARGET_PORT,
        )
        for label, port in BAD_TARGET_PORTS
    ),
]

CASES = [
    *GOOD,
    *CANARY_AND_TEMPLATE_CASES,
    *ALERT_PROVIDER_CASES,
    *CHECK_CASES,
    *DURATION_CASES,
    *METADATA_CASES,
    *URL_CASES,
    *TARGET_PORT_CASES,
]
