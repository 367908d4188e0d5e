"""The models: they read the examples, apply Flagger's defaults, keep ints ints, speak camelCase,
and refuse what the CRD's CEL rules refuse, with the same messages."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from canary.api import Canary, CanaryStatus, MetricTemplate, Phase
from canary.api.analysis import (
    INTERVAL_RULE,
    MATCH_RULE,
    METRIC_INTERVAL_RULE,
    METRIC_RANGE_RULE,
    METRIC_SOURCE_RULE,
    MIRROR_RULE,
    STEP_MODE_RULE,
    STEP_WEIGHT_RULE,
    STEP_WEIGHTS_RULE,
    STRING_MATCH_RULE,
    THRESHOLD_RANGE_RULE,
    WEBHOOK_TIMEOUT_POSITIVE_RULE,
    WEBHOOK_URL_RULE,
    Webhook,
)
from canary.api.canary import METRICS_SERVER_RULE, TARGET_PORT_RULE
from canary.api.metrictemplate import ADDRESS_RULE
from canary.api.status import ConditionType

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "podinfo"


def _example(name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return manifest


def _canary(**analysis: Any) -> dict[str, Any]:
    """The example Canary with fields of spec.analysis set (None removes one)."""
    manifest = _example("canary.yaml")
    for name, value in analysis.items():
        if value is None:
            manifest["spec"]["analysis"].pop(name, None)
        else:
            manifest["spec"]["analysis"][name] = value
    return manifest


def test_the_example_canary_parses_into_flaggers_fields() -> None:
    canary = Canary.model_validate(_example("canary.yaml"))
    assert canary.metadata.name == "podinfo"
    spec = canary.spec
    assert (spec.provider, spec.target_ref.kind, spec.target_ref.name) == (
        "linkerd",
        "Deployment",
        "podinfo",
    )
    assert spec.service.port == 9898
    analysis = spec.analysis
    assert (analysis.interval_seconds, analysis.threshold) == (10.0, 2)
    assert (analysis.max_weight, analysis.step_weight) == (50, 10)
    assert [(m.name, m.interval) for m in analysis.metrics] == [
        ("request-success-rate", "1m"),
        ("request-duration", "30s"),
        ("error-rate", "1m"),
    ]
    assert analysis.metrics[0].threshold_range is not None
    assert analysis.metrics[0].threshold_range.min == 99
    assert analysis.metrics[1].threshold_range is not None
    assert analysis.metrics[1].threshold_range.max == 500
    assert analysis.metrics[2].template_ref is not None
    assert analysis.metrics[2].template_ref.name == "error-rate"


def test_the_example_template_parses_with_the_default_prometheus() -> None:
    template = MetricTemplate.model_validate(_example("metrictemplate.yaml"))
    assert template.metadata.name == "error-rate"
    assert template.spec.provider.type == "prometheus"
    assert template.spec.provider.address is None
    for variable in ("{{ namespace }}", "{{ target }}", "{{ interval }}"):
        assert variable in template.spec.query
    assert 'classification="failure"' in template.spec.query


@pytest.mark.parametrize(
    ("model", "example"),
    [(Canary, "canary.yaml"), (MetricTemplate, "metrictemplate.yaml")],
)
def test_an_example_round_trips_to_the_same_camel_case_json(
    model: type[Canary | MetricTemplate], example: str
) -> None:
    manifest = _example(example)
    parsed = model.model_validate(manifest)
    # Every field of the example is known to the model: nothing was dropped on the way.
    assert parsed.model_dump(mode="json", exclude_unset=True) == manifest
    assert model.model_validate_json(parsed.model_dump_json()) == parsed


def test_defaults_are_flaggers() -> None:
    manifest = _canary(threshold=None, maxWeight=None)
    manifest["spec"].pop("progressDeadlineSeconds")
    manifest["spec"]["analysis"]["webhooks"] = [{"name": "w", "url": "http://hook.test/"}]
    canary = Canary.model_validate(manifest)
    spec = canary.spec
    assert spec.progress_deadline_seconds == 600
    assert (spec.skip_analysis, spec.suspend, spec.revert_on_deletion) == (False, False, False)
    assert spec.service.port_name == "http"
    assert spec.service_name == "podinfo"
    assert spec.analysis.threshold == 1
    assert spec.analysis.max_weight is None
    assert (spec.analysis.primary_ready_threshold, spec.analysis.canary_ready_threshold) == (
        100,
        100,
    )
    webhook = spec.analysis.webhooks[0]
    assert (webhook.type, webhook.retries, webhook.timeout_seconds) == ("rollout", 0, 10.0)
    assert canary.status == CanaryStatus()
    assert canary.status.phase is None
    assert canary.api_version == "canary.dev/v1alpha1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", 2.5),
        ("threshold", 2.0),
        ("threshold", "3"),
        ("stepWeight", 10.0),
        ("mirror", "true"),
        ("mirror", 1),
    ],
)
def test_numbers_and_booleans_are_not_coerced(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as refused:
        Canary.model_validate(_canary(**{field: value}))
    assert refused.value.errors()[0]["loc"] == ("spec", "analysis", field)


@pytest.mark.parametrize("port", [9898.0, "9898", 0, 65536])
def test_port_must_be_an_int_in_range(port: object) -> None:
    manifest = _example("canary.yaml")
    manifest["spec"]["service"]["port"] = port
    with pytest.raises(ValidationError) as refused:
        Canary.model_validate(manifest)
    assert refused.value.errors()[0]["loc"] == ("spec", "service", "port")


def test_target_port_is_an_int_or_a_name() -> None:
    manifest = _example("canary.yaml")
    manifest["spec"]["service"]["targetPort"] = "http"
    assert Canary.model_validate(manifest).spec.service.target_port == "http"
    manifest["spec"]["service"]["targetPort"] = 8080
    assert Canary.model_validate(manifest).spec.service.target_port == 8080


def test_python_names_and_json_aliases_both_populate() -> None:
    by_alias = Webhook.model_validate(
        {"name": "w", "url": "http://hook.test/", "disableTLS": True, "muteAlert": True}
    )
    by_name = Webhook(name="w", url="http://hook.test/", disable_tls=True, mute_alert=True)
    assert by_alias == by_name
    assert by_name.to_manifest() == {
        "name": "w",
        "type": "rollout",
        "url": "http://hook.test/",
        "retries": 0,
        "metadata": {},
        "muteAlert": True,
        "disableTLS": True,
    }


def test_status_serializes_camel_case_and_keeps_a_missing_value_as_null() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    status = CanaryStatus.model_validate(
        {
            "phase": "Progressing",
            "canaryWeight": 20,
            "lastStepTime": "2026-01-02T03:04:05Z",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Progressing",
                    "lastTransitionTime": when,
                }
            ],
            "checks": [{"name": "error-rate", "verdict": "Fail", "time": when}],
        }
    )
    assert status.phase is Phase.PROGRESSING
    assert status.last_step_time == when
    ready = status.condition(ConditionType.READY)
    assert ready is not None
    assert ready.status == "True"
    assert status.condition(ConditionType.PROMOTED) is None
    manifest = status.to_manifest()
    assert manifest["canaryWeight"] == 20
    assert manifest["lastStepTime"] == "2026-01-02T03:04:05Z"
    assert manifest["checks"] == [
        {
            "name": "error-rate",
            "value": None,
            "verdict": "Fail",
            "message": "",
            "time": "2026-01-02T03:04:05Z",
        }
    ]
    assert CanaryStatus.model_validate(manifest) == status


def test_an_unknown_phase_is_refused() -> None:
    with pytest.raises(ValidationError):
        CanaryStatus.model_validate({"phase": "Progresing"})


def _metric(**fields: Any) -> dict[str, Any]:
    return {"name": "error-rate", "thresholdRange": {"max": 1}, **fields}


def _with_spec(**fields: Any) -> dict[str, Any]:
    manifest = _example("canary.yaml")
    manifest["spec"].update(fields)
    return manifest


# The Python twin of every CEL rule that needs no old object: same manifest, same message.
RULES = [
    (_canary(interval="0s"), INTERVAL_RULE.message),
    (_canary(interval="1h0m1s"), INTERVAL_RULE.message),
    (_canary(stepWeight=None), STEP_MODE_RULE.message),
    (_canary(iterations=3), STEP_MODE_RULE.message),
    # isSorted() allows [10, 10]: the API server refuses a repeated weight as a duplicate in
    # the set, not by this rule.
    (_canary(stepWeight=None, stepWeights=[10, 20, 15]), STEP_WEIGHTS_RULE.message),
    (_canary(stepWeight=None, stepWeights=[30, 10]), STEP_WEIGHTS_RULE.message),
    (_canary(maxWeight=5), STEP_WEIGHT_RULE.message),
    (_canary(webhooks=[{"name": "w", "url": "ftp://hook.test/"}]), WEBHOOK_URL_RULE.message),
    (_canary(webhooks=[{"name": "w", "url": "/relative"}]), WEBHOOK_URL_RULE.message),
    (_canary(webhooks=[{"name": "w", "url": "http://"}]), WEBHOOK_URL_RULE.message),
    (
        _canary(metrics=[_metric(query="up", thresholdRange={"min": 2, "max": 1})]),
        THRESHOLD_RANGE_RULE.message,
    ),
    (_canary(metrics=[_metric()]), METRIC_SOURCE_RULE.message),
    (
        _canary(metrics=[_metric(query="up", templateRef={"name": "t"})]),
        METRIC_SOURCE_RULE.message,
    ),
    (
        _canary(metrics=[_metric(name="request-duration", query="up", templateRef={"name": "t"})]),
        METRIC_SOURCE_RULE.message,
    ),
    (_canary(metrics=[{"name": "request-duration"}]), METRIC_RANGE_RULE.message),
    (
        _canary(metrics=[{"name": "request-duration", "thresholdRange": {}}]),
        METRIC_RANGE_RULE.message,
    ),
    (
        _canary(iterations=10, stepWeight=None, match=[{"headers": {"x-canary": {}}}]),
        STRING_MATCH_RULE.message,
    ),
    (_canary(mirror=True), MIRROR_RULE.message),
    (_canary(match=[{"headers": {"x-canary": {"exact": "1"}}}]), MATCH_RULE.message),
    (
        _canary(
            iterations=3, stepWeight=None, mirror=True, match=[{"headers": {"a": {"exact": "1"}}}]
        ),
        MIRROR_RULE.message,
    ),
    (_with_spec(metricsServer="prometheus:9090"), METRICS_SERVER_RULE.message),
    (_with_spec(metricsServer="http://prometheus:9090\r\n"), METRICS_SERVER_RULE.message),
    (_canary(metrics=[_metric(query="up", interval="0s")]), METRIC_INTERVAL_RULE.message),
    (_canary(metrics=[_metric(query="up", interval="24h1ms")]), METRIC_INTERVAL_RULE.message),
    (
        _canary(webhooks=[{"name": "w", "url": "http://hook.test/", "timeout": "0ms"}]),
        WEBHOOK_TIMEOUT_POSITIVE_RULE.message,
    ),
    (_canary(webhooks=[{"name": "w", "url": "http://hook.test/\n"}]), WEBHOOK_URL_RULE.message),
    (_with_spec(service={"port": 80, "targetPort": 0}), TARGET_PORT_RULE.message),
    (_with_spec(service={"port": 80, "targetPort": "9898"}), TARGET_PORT_RULE.message),
]


@pytest.mark.parametrize(("manifest", "message"), RULES)
def test_the_models_refuse_what_the_cel_rules_refuse(
    manifest: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        Canary.model_validate(manifest)


def test_a_template_address_must_be_an_http_url() -> None:
    manifest = _example("metrictemplate.yaml")
    manifest["spec"]["provider"]["address"] = "prometheus:9090"
    with pytest.raises(ValidationError, match=re.escape(ADDRESS_RULE.message)):
        MetricTemplate.model_validate(manifest)
    manifest["spec"]["provider"]["address"] = "http://prometheus.monitoring:9090"
    assert MetricTemplate.model_validate(manifest).spec.provider.address is not None


def test_what_the_rules_allow() -> None:
    allowed = [
        _canary(interval="1s"),
        _canary(interval="1h"),
        _canary(stepWeight=None, maxWeight=None, stepWeights=[5, 10, 20, 50]),
        _canary(stepWeight=None, maxWeight=None, iterations=10),
        _canary(webhooks=[{"name": "w", "url": "https://hook.test/x", "timeout": "9s"}]),
        _canary(webhooks=[{"name": "w", "url": "http://[::1]:80/x?y#z", "timeout": "1ms"}]),
        _canary(metrics=[_metric(query="up", interval="24h"), _metric(name="b", query="up")]),
        _with_spec(service={"port": 80, "targetPort": "http-metrics"}),
        _with_spec(service={"port": 80, "targetPort": 65535}),
        _canary(metrics=[{"name": "request-success-rate", "thresholdRange": {"min": 99}}]),
        _canary(
            iterations=10,
            stepWeight=None,
            match=[{"headers": {"x-canary": {"exact": "insider"}}}],
        ),
        _with_spec(
            provider="gatewayapi:v1",
            service={"port": 80, "gatewayRefs": [{"name": "gw", "namespace": "ingress"}]},
        ),
    ]
    for manifest in allowed:
        assert Canary.model_validate(manifest).spec.target_ref.name == "podinfo"


def test_flaggers_threshold_bounds_a_metric_as_flagger_reads_it() -> None:
    """Flagger's older `threshold`: a minimum for the success rate, a maximum otherwise; a
    thresholdRange with a bound wins over it."""
    canary = Canary.model_validate(
        _canary(
            metrics=[
                {"name": "request-success-rate", "threshold": 99, "interval": "1m"},
                {"name": "request-duration", "threshold": 500, "interval": "30s"},
                _metric(query="up", thresholdRange=None, threshold=5),
                {"name": "both", "query": "up", "threshold": 5, "thresholdRange": {"min": 1}},
            ]
        )
    )
    assert [m.bounds for m in canary.spec.analysis.metrics] == [
        (99, None),
        (None, 500),
        (None, 5),
        (1, None),
    ]


def test_a_webhook_timeout_may_exceed_the_interval_as_in_flagger() -> None:
    """Flagger's Linkerd tutorial: interval 30s, load-test webhook timeout 30s."""
    manifest = _canary(
        interval="30s",
        webhooks=[{"name": "load-test", "url": "http://loadtester.test/", "timeout": "60s"}],
    )
    canary = Canary.model_validate(manifest)
    assert canary.spec.analysis.webhooks[0].timeout_seconds == 60.0


@pytest.mark.parametrize(
    ("where", "field"),
    [("service", "trafficPolicy"), ("service", "meshName"), ("spec", "ingressRef")],
)
def test_other_providers_fields_are_kept_aside_not_refused(where: str, field: str) -> None:
    """Flagger ignores them with the Canary's provider (linkerd here), and so may we."""
    manifest = _example("canary.yaml")
    parent = manifest["spec"] if where == "spec" else manifest["spec"][where]
    parent[field] = {"anything": ["as", "flagger", "has", "it"]}
    spec = Canary.model_validate(manifest).spec
    assert [f.field for f in spec.foreign] == [field]
    assert field not in json.dumps(spec.model_dump(by_alias=True)), "not written back"


@pytest.mark.parametrize(
    ("provider", "field", "message"),
    [
        ("gatewayapi:v1", "corsPolicy", "service.corsPolicy is an Istio and Gateway API setting"),
        ("gatewayapi:v1beta1", "mirror", "service.mirror is a Gateway API setting"),
        ("linkerd", "headless", "service.headless is a Flagger setting"),
    ],
)
def test_fields_flagger_applies_with_the_provider_are_refused_naming_them(
    provider: str, field: str, message: str
) -> None:
    manifest = _example("canary.yaml")
    manifest["spec"]["provider"] = provider
    manifest["spec"]["service"][field] = [] if field == "mirror" else True
    with pytest.raises(ValidationError, match=re.escape(message)):
        Canary.model_validate(manifest)


def test_a_provider_not_implemented_is_refused_naming_it() -> None:
    manifest = _example("canary.yaml")
    manifest["spec"]["provider"] = "consul"
    with pytest.raises(ValidationError, match="provider consul is not supported yet; supported "):
        Canary.model_validate(manifest)


def test_session_affinity_is_flaggers() -> None:
    manifest = _canary(sessionAffinity={"cookieName": "flagger-cookie", "maxAge": 21600})
    sticky = Canary.model_validate(manifest).spec.analysis.session_affinity
    assert sticky is not None
    assert (sticky.cookie_name, sticky.max_age, sticky.primary_cookie_name) == (
        "flagger-cookie",
        21600,
        None,
    )
    same = _canary(sessionAffinity={"cookieName": "a", "primaryCookieName": "a"})
    with pytest.raises(ValidationError, match="primaryCookieName must differ"):
        Canary.model_validate(same)
