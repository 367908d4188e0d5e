"""Canaries and MetricTemplates the API server refuses, with its causes (the table of the
admission tests before the corpus)."""

from __future__ import annotations

from canary.api.analysis import MATCH_RULE, MIRROR_RULE
from canary.api.canary import SCALER_REPLICAS_RULE
from canary.api.foreign import SERVICE_FIELDS, provider_message
from canary.api.metrictemplate import (
    ADDRESS_NEEDED_RULE,
    REGION_NEEDED_RULE,
    SECRET_NEEDED_RULE,
)
from tests.admission_corpus.cases import (
    INTERVAL,
    METRIC_RANGE,
    NOT_ALL_CHECKED,
    ONE_MODE,
    PATTERN,
    SOURCE,
    WEBHOOK_TYPES,
    WEBHOOK_URL,
    Case,
    all_of,
    cause,
    in_analysis,
    in_spec,
    metric,
    rule_cause,
    webhook,
)

REWRITE = next(f for f in SERVICE_FIELDS if f.field == "rewrite")

CANARY_AND_TEMPLATE_CASES = [
    Case(
        "interval-with-trailing-garbage",
        in_analysis(interval="5mfoo"),
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
        in_analysis(interval="0s"),
        [cause("spec.analysis.interval", f'Invalid value: "0s": {INTERVAL}')],
        rule_message=INTERVAL,
    ),
    Case(
        "interval-over-an-hour",
        in_analysis(interval="2h"),
        [cause("spec.analysis.interval", f'Invalid value: "2h": {INTERVAL}')],
        rule_message=INTERVAL,
    ),
    Case(
        "threshold-zero",
        in_analysis(threshold=0),
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
        in_analysis(threshold=2.5),
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
        in_analysis(threshold="3"),
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
        in_analysis(stepWeight=101, maxWeight=None),
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
        in_analysis(maxWeight=5),
        [rule_cause("spec.analysis", "analysis.stepWeight must be <= analysis.maxWeight")],
        rule_message="analysis.stepWeight must be <= analysis.maxWeight",
    ),
    Case(
        "step-weights-descending",
        in_analysis(stepWeight=None, stepWeights=[30, 10]),
        [
            rule_cause(
                "spec.analysis.stepWeights", "analysis.stepWeights must be in ascending order"
            )
        ],
        rule_message="analysis.stepWeights must be in ascending order",
    ),
    Case(
        "step-weights-repeated",
        in_analysis(stepWeight=None, stepWeights=[10, 10, 20]),
        [cause("spec.analysis.stepWeights[1]", "Duplicate value: 10", "FieldValueDuplicate")],
    ),
    Case(
        "no-step-mode",
        in_analysis(stepWeight=None),
        [rule_cause("spec.analysis", ONE_MODE)],
        rule_message=ONE_MODE,
    ),
    Case(
        "step-weight-and-iterations",
        in_analysis(iterations=5),
        [rule_cause("spec.analysis", ONE_MODE)],
        rule_message=ONE_MODE,
    ),
    Case(
        "duplicate-metric-names",
        in_analysis(metrics=[metric(query="up"), metric(query="up")]),
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
        in_analysis(metrics=[metric(query="up", thresholdRange={"min": 5, "max": 1})]),
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
        in_analysis(metrics=[metric(query="up", templateRef={"name": "error-rate"})]),
        [rule_cause("spec.analysis.metrics[0]", SOURCE)],
        rule_message=SOURCE,
    ),
    Case(
        "custom-metric-without-query",
        in_analysis(metrics=[metric()]),
        [rule_cause("spec.analysis.metrics[0]", SOURCE)],
        rule_message=SOURCE,
    ),
    Case(
        "metric-without-range",
        in_analysis(metrics=[{"name": "request-success-rate"}]),
        [rule_cause("spec.analysis.metrics[0]", METRIC_RANGE)],
        rule_message=METRIC_RANGE,
    ),
    Case(
        "template-variable-injection",
        in_analysis(
            metrics=[
                metric(templateRef={"name": "t"}, templateVariables={"v": '"} or vector(1) #'})
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
        in_analysis(
            metrics=[
                metric(
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
        in_analysis(webhooks=[webhook(url="ftp://loadtester.test/")]),
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
        in_analysis(webhooks=[webhook(url="/gate/approve")]),
        [cause("spec.analysis.webhooks[0].url", f'Invalid value: "/gate/approve": {WEBHOOK_URL}')],
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-too-long",
        in_analysis(webhooks=[webhook(url="http://loadtester.test/" + "a" * 3000)]),
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
        # Flagger's Linkerd tutorial: timeout 30s, interval 30s. A slow call delays the step only.
        "webhook-timeout-as-long-as-the-interval-is-admitted",
        in_analysis(webhooks=[webhook(timeout="30s")]),
        [],
    ),
    Case(
        "webhook-retries-over-5",
        in_analysis(webhooks=[webhook(retries=10)]),
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
        in_analysis(webhooks=[webhook(type="pre-promotion")]),
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
        "autoscaler-kind-unknown",
        in_spec("autoscalerRef", {"kind": "VerticalPodAutoscaler", "name": "podinfo"}),
        [
            cause(
                "spec.autoscalerRef.kind",
                'Unsupported value: "VerticalPodAutoscaler": supported values: '
                '"HorizontalPodAutoscaler", "ScaledObject"',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Case(
        "scaled-object-primary-scaler-replicas-min-above-max",
        in_spec(
            "autoscalerRef",
            {
                "apiVersion": "keda.sh/v1alpha1",
                "kind": "ScaledObject",
                "name": "podinfo-so",
                "primaryScalerQueries": {"requests": "vector(1)"},
                "primaryScalerReplicas": {"minReplicas": 4, "maxReplicas": 2},
            },
        ),
        [rule_cause("spec.autoscalerRef.primaryScalerReplicas", SCALER_REPLICAS_RULE.message)],
        rule_message=SCALER_REPLICAS_RULE.message,
    ),
    Case(
        "target-kind-statefulset",
        in_spec("targetRef.kind", "StatefulSet"),
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
        "service-port-out-of-range",
        in_spec("service.port", 70000),
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
        in_spec("progressDeadlineSeconds", 5),
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
        in_spec("provider", "consul"),
        [cause("spec.provider", f'Invalid value: "consul": {provider_message("consul")}')],
        rule_message=provider_message("consul"),
    ),
    Case(
        "match-without-iterations",
        in_spec("analysis.match", [{"headers": {"x-canary": {"exact": "insider"}}}]),
        [rule_cause("spec.analysis", MATCH_RULE.message)],
        rule_message=MATCH_RULE.message,
    ),
    Case(
        "mirror-without-iterations",
        in_spec("analysis.mirror", value=True),
        [rule_cause("spec.analysis", MIRROR_RULE.message)],
        rule_message=MIRROR_RULE.message,
    ),
    Case(
        "metrics-server-not-a-url",
        in_spec("metricsServer", "prometheus:9090"),
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
        in_spec(
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
        "template-provider-unknown",
        in_spec("provider.type", "opentsdb"),
        [
            cause(
                "spec.provider.type",
                'Unsupported value: "opentsdb": supported values: "prometheus", "graphite",'
                ' "influxdb", "datadog", "newrelic", "dynatrace", "cloudwatch", "stackdriver",'
                ' "splunk", "keptn"',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
        kind="metrictemplates",
    ),
    Case(
        "template-provider-datadog",
        in_spec("provider", {"type": "datadog", "secretRef": {"name": "datadog"}}),
        [],
        kind="metrictemplates",
    ),
    Case(
        "template-graphite-without-address",
        in_spec("provider", {"type": "graphite"}),
        [cause("spec.provider", f"Invalid value: {ADDRESS_NEEDED_RULE.message}")],
        kind="metrictemplates",
        rule_message=ADDRESS_NEEDED_RULE.message,
    ),
    Case(
        "template-datadog-without-secret",
        in_spec("provider", {"type": "datadog"}),
        [cause("spec.provider", f"Invalid value: {SECRET_NEEDED_RULE.message}")],
        kind="metrictemplates",
        rule_message=SECRET_NEEDED_RULE.message,
    ),
    Case(
        "template-cloudwatch-without-region",
        in_spec("provider", {"type": "cloudwatch"}),
        [cause("spec.provider", f"Invalid value: {REGION_NEEDED_RULE.message}")],
        kind="metrictemplates",
        rule_message=REGION_NEEDED_RULE.message,
    ),
    Case(
        "template-keptn-needs-nothing",
        in_spec("provider", {"type": "keptn"}),
        [],
        kind="metrictemplates",
    ),
    Case(
        "template-provider-with-region",
        in_spec(
            "provider",
            {"type": "graphite", "address": "http://graphite:8080", "region": "eu-west-1"},
        ),
        [],
        kind="metrictemplates",
    ),
    Case(
        "template-address-not-a-url",
        in_spec("provider.address", "prometheus.monitoring:9090"),
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
    # Another provider's field: admitted where Flagger ignores it (the controller warns),
    # refused where Flagger applies it with the Canary's provider.
    Case("istio-field-with-linkerd", in_spec("service.trafficPolicy", {"tls": {}}), []),
    Case(
        "gateway-api-field-with-gateway-api",
        all_of(in_spec("provider", "gatewayapi:v1"), in_spec("service.rewrite", {"uri": "/"})),
        [rule_cause("spec", REWRITE.message)],
        rule_message=REWRITE.message,
    ),
    # Provider contour: the Flagger fields its router applies, and one Flagger ignores with it.
    Case(
        "contour-retries-and-path-prefix",
        all_of(
            in_spec("provider", "contour"),
            in_spec("service.retries", {"attempts": 3, "perTryTimeout": "5s"}),
            in_spec("service.match", [{"uri": {"prefix": "/api"}}]),
        ),
        [],
    ),
    Case(
        "gloo-upstream-ref-with-gloo",
        all_of(
            in_spec("provider", "gloo"),
            in_spec(
                "upstreamRef", {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "name": "cfg"}
            ),
        ),
        [],
    ),
    Case(
        "gateway-api-field-with-contour",
        all_of(in_spec("provider", "contour"), in_spec("service.rewrite", {"uri": "/"})),
        [],
    ),
]
