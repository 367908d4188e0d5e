"""Issue 9, item 9: what was admitted and failed only mid-release, and where `canary check` and
the API server disagreed."""

from __future__ import annotations

import json

from canary.api.alertprovider import (
    ALERT_ADDRESS_RULE,
    ALERT_PROXY_RULE,
)
from tests.admission_corpus.cases import (
    NOT_ALL_CHECKED,
    WEBHOOK_URL,
    Case,
    Cause,
    Change,
    all_of,
    cause,
    drop_name,
    in_analysis,
    in_metadata,
    in_provider_spec,
    in_spec,
    webhook,
)

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
    return in_analysis(
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
    return in_spec("service.targetPort", port)


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
        in_analysis(webhooks=[webhook(timeout="0s")]),
        [cause("spec.analysis.webhooks[0].timeout", f'Invalid value: "0s": {WEBHOOK_TIMEOUT}')],
        rule_message=WEBHOOK_TIMEOUT,
    ),
    Case("webhook-timeout-short", in_analysis(webhooks=[webhook(timeout="500ms")]), []),
]

METADATA_CASES = [
    Case(
        "name-over-253-characters",
        in_metadata(name="a" * 254),
        [
            cause(
                "metadata.name",
                f'Invalid value: "{"a" * 254}": must be no more than 253 characters',
            )
        ],
    ),
    Case("name-of-253-characters", in_metadata(name="a" * 253), [], kind="metrictemplates"),
    Case("generate-name-only", all_of(drop_name, in_metadata(generateName="podinfo-")), []),
    Case(
        "labels-and-annotations-with-prefixes",
        in_metadata(
            labels={"app.kubernetes.io/name": "podinfo", "team": ""},
            annotations={"Example.COM/Owner": "Team A\nrotation 2"},
        ),
        [],
    ),
    Case(
        "name-with-capitals",
        in_metadata(name="PodInfo"),
        [
            cause(
                "metadata.name",
                f'Invalid value: "PodInfo": {SUBDOMAIN}',
            )
        ],
    ),
    Case(
        "annotations-over-256-kib",
        in_metadata(annotations={"note": "x" * ANNOTATIONS_LIMIT}),
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
        all_of(
            in_metadata(annotations={"note": "x" * ANNOTATIONS_LIMIT}),
            in_analysis(webhooks=[webhook(url="ftp://loadtester.test/")]),
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
        in_metadata(annotations={"note": "x" * (ANNOTATIONS_LIMIT - len("note"))}),
        [],
    ),
    Case(
        "annotation-key-not-a-qualified-name",
        in_metadata(annotations={"not a key": "x"}),
        [cause("metadata.annotations", f'Invalid value: "not a key": {NAME_PART}')],
    ),
    Case(
        "label-value-with-a-space",
        in_metadata(labels={"app": "pod info"}),
        [cause("metadata.labels", f'Invalid value: "pod info": {LABEL_VALUE}')],
    ),
]

URL_CASES = [
    Case(
        "webhook-url-with-crlf",
        in_analysis(webhooks=[webhook(url=CRLF_URL)]),
        _url_refused("spec.analysis.webhooks[0].url", CRLF_URL, WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-a-space-in-the-host",
        in_analysis(webhooks=[webhook(url=SPACE_HOST_URL)]),
        _url_refused("spec.analysis.webhooks[0].url", SPACE_HOST_URL, WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-a-named-port",
        in_analysis(webhooks=[webhook(url="http://loadtester.test:http/")]),
        _url_refused("spec.analysis.webhooks[0].url", "http://loadtester.test:http/", WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-a-bad-escape",
        in_analysis(webhooks=[webhook(url="http://loadtester.test/%zz")]),
        _url_refused("spec.analysis.webhooks[0].url", "http://loadtester.test/%zz", WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-no-ipv6-in-brackets",
        in_analysis(webhooks=[webhook(url="http://[10.0.0.1]:8080/")]),
        _url_refused("spec.analysis.webhooks[0].url", "http://[10.0.0.1]:8080/", WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-two-ports",
        in_analysis(webhooks=[webhook(url="http://loadtester.test:80:80/")]),
        _url_refused("spec.analysis.webhooks[0].url", "http://loadtester.test:80:80/", WEBHOOK_URL),
        rule_message=WEBHOOK_URL,
    ),
    Case(
        "webhook-url-with-query-port-and-user",
        in_analysis(
            webhooks=[webhook(url="https://user:pw@loadtester.test:8443/gate/check?x=a%20b#f")]
        ),
        [],
    ),
    Case(
        "webhook-url-ipv6",
        in_analysis(webhooks=[webhook(url="http://[::1]:8080/")]),
        [],
    ),
    Case(
        "metrics-server-with-lf",
        in_spec("metricsServer", "http://prometheus.test:9090\n"),
        _url_refused(
            "spec.metricsServer",
            "http://prometheus.test:9090\n",
            "metricsServer must be an absolute http(s) URL",
        ),
        rule_message="metricsServer must be an absolute http(s) URL",
    ),
    Case(
        "template-address-with-crlf",
        in_spec("provider.address", "http://prometheus.test:9090/\r\n"),
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
        in_provider_spec(address="https://hooks.slack.test/services/x\r\n"),
        _url_refused(
            "spec.address", "https://hooks.slack.test/services/x\r\n", ALERT_ADDRESS_RULE.message
        ),
        kind="alertproviders",
        rule_message=ALERT_ADDRESS_RULE.message,
    ),
    Case(
        "alert-proxy-with-tab",
        in_provider_spec(proxy="http://proxy.internal:3128\t"),
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
