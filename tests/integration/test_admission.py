"""The generated CRDs, installed in a real API server: what they admit, refuse, print and store.

Every refusal is asserted with the API server's exact words (field and message of each cause in
the 422's details), because those words are what a user reads in `kubectl apply`. For the CEL
rules, the models must refuse the same manifest with the same message.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from canary.api import GROUP, VERSION, Canary, CanaryStatus, MetricTemplate
from canary.api.analysis import MATCH_RULE, MIRROR_RULE
from canary.api.canary import SCALER_REPLICAS_RULE
from canary.sandbox.state import SandboxState
from tests.integration.crds import install_crds

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "podinfo"
NOT_ALL_CHECKED = {
    "reason": "FieldValueInvalid",
    "message": "Invalid value: null: some validation rules were not checked because the object "
    "was invalid; correct the existing errors to complete validation",
    "field": "<nil>",
}

Manifest = dict[str, Any]


def _example(name: str) -> Manifest:
    manifest: Manifest = yaml.safe_load((EXAMPLES / name).read_text())
    return manifest


def _cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}


def _rule(field: str, message: str) -> dict[str, str]:
    """How the API server reports a failed CEL rule on an object or list item."""
    return _cause(field, f"Invalid value: {message}")


@dataclass(frozen=True)
class Bad:
    """A manifest the API server must refuse, and the causes it must give."""

    id: str
    change: Callable[[Manifest], None]
    causes: list[dict[str, str]]
    kind: str = "canaries"
    rule_message: str | None = None  # a CEL rule's message; the models must say the same


def _analysis(**fields: Any) -> Callable[[Manifest], None]:
    """Set (or, with None, remove) fields of spec.analysis."""

    def change(manifest: Manifest) -> None:
        for name, value in fields.items():
            if value is None:
                manifest["spec"]["analysis"].pop(name, None)
            else:
                manifest["spec"]["analysis"][name] = value

    return change


def _spec(path: str, value: Any) -> Callable[[Manifest], None]:
    """Set the field at the dotted `path` under spec."""

    def change(manifest: Manifest) -> None:
        *parents, last = path.split(".")
        node = manifest["spec"]
        for name in parents:
            node = node[name]
        node[last] = value

    return change


def _metric(**fields: Any) -> dict[str, Any]:
    return {"name": "error-rate", "thresholdRange": {"max": 1}, **fields}


def _webhook(**fields: Any) -> dict[str, Any]:
    return {"name": "load-test", "url": "http://loadtester.test/", **fields}


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
METRIC_RANGE = "a metric needs a thresholdRange with min, max or both (or Flagger's threshold)"
WEBHOOK_TYPES = (
    '"confirm-rollout", "pre-rollout", "rollout", "confirm-traffic-increase", '
    '"confirm-promotion", "post-rollout", "rollback", "event"'
)
PROVIDERS = (
    '"linkerd", "smi:v1alpha1", "smi:v1alpha2", "smi:v1alpha3", "smi:v1alpha4", "kubernetes", '
    '"gatewayapi:v1", "gatewayapi:v1beta1"'
)

BAD = [
    Bad(
        "interval-with-trailing-garbage",
        _analysis(interval="5mfoo"),
        [
            _cause(
                "spec.analysis.interval",
                f'Invalid value: "5mfoo": spec.analysis.interval in body should match {PATTERN}',
            ),
            _cause("spec.analysis.interval", f'Invalid value: "5mfoo": {INTERVAL}'),
        ],
    ),
    Bad(
        "interval-zero",
        _analysis(interval="0s"),
        [_cause("spec.analysis.interval", f'Invalid value: "0s": {INTERVAL}')],
        rule_message=INTERVAL,
    ),
    Bad(
        "interval-over-an-hour",
        _analysis(interval="2h"),
        [_cause("spec.analysis.interval", f'Invalid value: "2h": {INTERVAL}')],
        rule_message=INTERVAL,
    ),
    Bad(
        "threshold-zero",
        _analysis(threshold=0),
        [
            _cause(
                "spec.analysis.threshold",
                "Invalid value: 0: spec.analysis.threshold in body should be greater than or "
                "equal to 1",
            )
        ],
    ),
    Bad(
        "threshold-float",
        _analysis(threshold=2.5),
        [
            _cause(
                "spec.analysis.threshold",
                'Invalid value: "number": spec.analysis.threshold in body must be of type '
                'integer: "number"',
                reason="FieldValueTypeInvalid",
            ),
            _cause(
                "<nil>",
                'Invalid value: "": Checked value must be of type integer (default format) in '
                "spec.analysis.threshold",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Bad(
        "threshold-string",
        _analysis(threshold="3"),
        [
            _cause(
                "spec.analysis.threshold",
                'Invalid value: "string": spec.analysis.threshold in body must be of type '
                'integer: "string"',
                reason="FieldValueTypeInvalid",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Bad(
        "step-weight-over-100",
        _analysis(stepWeight=101, maxWeight=None),
        [
            _cause(
                "spec.analysis.stepWeight",
                "Invalid value: 101: spec.analysis.stepWeight in body should be less than or "
                "equal to 100",
            )
        ],
    ),
    Bad(
        "step-weight-above-max-weight",
        _analysis(maxWeight=5),
        [_rule("spec.analysis", "analysis.stepWeight must be <= analysis.maxWeight")],
        rule_message="analysis.stepWeight must be <= analysis.maxWeight",
    ),
    Bad(
        "step-weights-descending",
        _analysis(stepWeight=None, stepWeights=[30, 10]),
        [_rule("spec.analysis.stepWeights", "analysis.stepWeights must be in ascending order")],
        rule_message="analysis.stepWeights must be in ascending order",
    ),
    Bad(
        "step-weights-repeated",
        _analysis(stepWeight=None, stepWeights=[10, 10, 20]),
        [_cause("spec.analysis.stepWeights[1]", "Duplicate value: 10", "FieldValueDuplicate")],
    ),
    Bad(
        "no-step-mode",
        _analysis(stepWeight=None),
        [_rule("spec.analysis", ONE_MODE)],
        rule_message=ONE_MODE,
    ),
    Bad(
        "step-weight-and-iterations",
        _analysis(iterations=5),
        [_rule("spec.analysis", ONE_MODE)],
        rule_message=ONE_MODE,
    ),
    Bad(
        "duplicate-metric-names",
        _analysis(metrics=[_metric(query="up"), _metric(query="up")]),
        [
            _cause(
                "spec.analysis.metrics[1]",
                'Duplicate value: {"name":"error-rate"}',
                "FieldValueDuplicate",
            )
        ],
    ),
    Bad(
        "threshold-range-inverted",
        _analysis(metrics=[_metric(query="up", thresholdRange={"min": 5, "max": 1})]),
        [
            _rule(
                "spec.analysis.metrics[0].thresholdRange",
                "thresholdRange.min must be <= thresholdRange.max",
            )
        ],
        rule_message="thresholdRange.min must be <= thresholdRange.max",
    ),
    Bad(
        "metric-with-query-and-template",
        _analysis(metrics=[_metric(query="up", templateRef={"name": "error-rate"})]),
        [_rule("spec.analysis.metrics[0]", SOURCE)],
        rule_message=SOURCE,
    ),
    Bad(
        "custom-metric-without-query",
        _analysis(metrics=[_metric()]),
        [_rule("spec.analysis.metrics[0]", SOURCE)],
        rule_message=SOURCE,
    ),
    Bad(
        "metric-without-range",
        _analysis(metrics=[{"name": "request-success-rate"}]),
        [_rule("spec.analysis.metrics[0]", METRIC_RANGE)],
        rule_message=METRIC_RANGE,
    ),
    Bad(
        "template-variable-injection",
        _analysis(
            metrics=[
                _metric(templateRef={"name": "t"}, templateVariables={"v": '"} or vector(1) #'})
            ]
        ),
        [
            _cause(
                "spec.analysis.metrics[0].templateVariables.v",
                'Invalid value: "\\"} or vector(1) #": spec.analysis.metrics[0]'
                ".templateVariables.v in body should match '^[A-Za-z0-9_.:/-]*$'",
            )
        ],
    ),
    Bad(
        "too-many-template-variables",
        _analysis(
            metrics=[
                _metric(
                    templateRef={"name": "t"}, templateVariables={f"v{i}": "x" for i in range(17)}
                )
            ]
        ),
        [
            _cause(
                "spec.analysis.metrics[0].templateVariables",
                "Too many: 17: must have at most 16 items",
                "FieldValueTooMany",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Bad(
        "webhook-ftp-url",
        _analysis(webhooks=[_webhook(url="ftp://loadtester.test/")]),
        [
            _cause(
                "spec.analysis.webhooks[0].url",
                f'Invalid value: "ftp://loadtester.test/": {WEBHOOK_URL}',
            )
        ],
        rule_message=WEBHOOK_URL,
    ),
    Bad(
        "webhook-relative-url",
        _analysis(webhooks=[_webhook(url="/gate/approve")]),
        [_cause("spec.analysis.webhooks[0].url", f'Invalid value: "/gate/approve": {WEBHOOK_URL}')],
        rule_message=WEBHOOK_URL,
    ),
    Bad(
        "webhook-url-too-long",
        _analysis(webhooks=[_webhook(url="http://loadtester.test/" + "a" * 3000)]),
        [
            _cause(
                "spec.analysis.webhooks[0].url",
                "Too long: may not be more than 2048 bytes",
                "FieldValueTooLong",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Bad(
        "webhook-retries-over-5",
        _analysis(webhooks=[_webhook(retries=10)]),
        [
            _cause(
                "spec.analysis.webhooks[0].retries",
                "Invalid value: 10: spec.analysis.webhooks[0].retries in body should be less "
                "than or equal to 5",
            )
        ],
    ),
    Bad(
        "webhook-unknown-type",
        _analysis(webhooks=[_webhook(type="pre-promotion")]),
        [
            _cause(
                "spec.analysis.webhooks[0].type",
                f'Unsupported value: "pre-promotion": supported values: {WEBHOOK_TYPES}',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Bad(
        "target-kind-statefulset",
        _spec("targetRef.kind", "StatefulSet"),
        [
            _cause(
                "spec.targetRef.kind",
                'Unsupported value: "StatefulSet": supported values: "Deployment"',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Bad(
        "service-port-out-of-range",
        _spec("service.port", 70000),
        [
            _cause(
                "spec.service.port",
                "Invalid value: 70000: spec.service.port in body should be less than or equal "
                "to 65535",
            )
        ],
    ),
    Bad(
        "progress-deadline-too-short",
        _spec("progressDeadlineSeconds", 5),
        [
            _cause(
                "spec.progressDeadlineSeconds",
                "Invalid value: 5: spec.progressDeadlineSeconds in body should be greater than "
                "or equal to 10",
            )
        ],
    ),
    Bad(
        "unknown-provider",
        _spec("provider", "istio"),
        [
            _cause(
                "spec.provider",
                f'Unsupported value: "istio": supported values: {PROVIDERS}',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Bad(
        "match-without-iterations",
        _spec("analysis.match", [{"headers": {"x-canary": {"exact": "insider"}}}]),
        [_rule("spec.analysis", MATCH_RULE.message)],
        rule_message=MATCH_RULE.message,
    ),
    Bad(
        "mirror-without-iterations",
        _spec("analysis.mirror", value=True),
        [_rule("spec.analysis", MIRROR_RULE.message)],
        rule_message=MIRROR_RULE.message,
    ),
    Bad(
        "metrics-server-not-a-url",
        _spec("metricsServer", "prometheus:9090"),
        [
            _cause(
                "spec.metricsServer",
                'Invalid value: "prometheus:9090": metricsServer must be an absolute http(s) URL',
            )
        ],
        rule_message="metricsServer must be an absolute http(s) URL",
    ),
    Bad(
        "primary-scaler-replicas-min-above-max",
        _spec(
            "autoscalerRef",
            {
                "kind": "HorizontalPodAutoscaler",
                "name": "podinfo",
                "primaryScalerReplicas": {"minReplicas": 5, "maxReplicas": 2},
            },
        ),
        [_rule("spec.autoscalerRef.primaryScalerReplicas", SCALER_REPLICAS_RULE.message)],
        rule_message=SCALER_REPLICAS_RULE.message,
    ),
    Bad(
        "template-provider-not-prometheus",
        _spec("provider.type", "datadog"),
        [
            _cause(
                "spec.provider.type",
                'Unsupported value: "datadog": supported values: "prometheus"',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
        kind="metrictemplates",
    ),
    Bad(
        "template-address-not-a-url",
        _spec("provider.address", "prometheus.monitoring:9090"),
        [
            _cause(
                "spec.provider.address",
                'Invalid value: "prometheus.monitoring:9090": provider address must be an '
                "absolute http(s) URL",
            )
        ],
        kind="metrictemplates",
        rule_message="provider address must be an absolute http(s) URL",
    ),
]


@pytest.fixture
async def crds(api: ApiClient) -> list[str]:
    return await install_crds(api)


async def _create(api: ApiClient, namespace: str, plural: str, manifest: Manifest) -> Manifest:
    created: Manifest = await CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, plural, manifest, field_validation="Strict"
    )
    return created


def _causes(error: ApiException) -> list[dict[str, str]]:
    assert error.status == 422, error.body
    assert error.body is not None
    causes: list[dict[str, str]] = json.loads(error.body)["details"]["causes"]
    return causes


async def test_the_examples_are_admitted_as_written(
    api: ApiClient, namespace: str, crds: list[str]
) -> None:
    assert crds == [
        "canaries.canary.dev",
        "metrictemplates.canary.dev",
        "alertproviders.canary.dev",
    ]
    template = _example("metrictemplate.yaml")
    canary = _example("canary.yaml")
    stored_template = await _create(api, namespace, "metrictemplates", template)
    stored_canary = await _create(api, namespace, "canaries", canary)
    # Nothing pruned, nothing defaulted: the stored spec is what its author wrote.
    assert stored_template["spec"] == template["spec"]
    assert stored_canary["spec"] == canary["spec"]
    # And the models read what the server stores.
    parsed = Canary.model_validate(stored_canary)
    assert parsed.metadata.namespace == namespace
    assert parsed.metadata.generation == 1
    assert parsed.spec.analysis.step_weight == 10
    assert MetricTemplate.model_validate(stored_template).spec.provider.address is None


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
async def test_a_bad_manifest_is_refused_with_exact_messages(
    api: ApiClient, namespace: str, crds: list[str], bad: Bad
) -> None:
    assert crds
    manifest = _example("canary.yaml" if bad.kind == "canaries" else "metrictemplate.yaml")
    bad.change(manifest)
    with pytest.raises(ApiException) as refused:
        await _create(api, namespace, bad.kind, manifest)
    assert _causes(refused.value) == bad.causes
    if bad.rule_message is not None:
        model = Canary if bad.kind == "canaries" else MetricTemplate
        with pytest.raises(ValidationError, match=re.escape(bad.rule_message)):
            model.model_validate(manifest)


async def test_target_ref_cannot_change(api: ApiClient, namespace: str, crds: list[str]) -> None:
    assert crds
    await _create(api, namespace, "canaries", _example("canary.yaml"))
    objects = CustomObjectsApi(api)
    with pytest.raises(ApiException) as refused:
        await objects.patch_namespaced_custom_object(
            GROUP,
            VERSION,
            namespace,
            "canaries",
            "podinfo",
            [{"op": "replace", "path": "/spec/targetRef/name", "value": "other"}],
        )
    assert _causes(refused.value) == [
        _rule("spec.targetRef", "targetRef is immutable; create a new Canary")
    ]
    # Anything else in the spec may change.
    patched = await objects.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        "canaries",
        "podinfo",
        [{"op": "replace", "path": "/spec/analysis/stepWeight", "value": 20}],
    )
    assert patched["spec"]["analysis"]["stepWeight"] == 20
    assert patched["spec"]["targetRef"]["name"] == "podinfo"


async def test_unknown_fields_are_refused_strictly_and_pruned_otherwise(
    api: ApiClient, namespace: str, crds: list[str]
) -> None:
    assert crds
    manifest = _example("canary.yaml")
    manifest["spec"]["analysis"]["canaryAnalysisTypo"] = 1
    with pytest.raises(ApiException) as refused:
        await _create(api, namespace, "canaries", manifest)
    assert refused.value.status == 400
    assert refused.value.body is not None
    assert json.loads(refused.value.body)["message"].endswith(
        'strict decoding error: unknown field "spec.analysis.canaryAnalysisTypo"'
    )

    stored = await CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "canaries", manifest
    )
    assert "canaryAnalysisTypo" not in stored["spec"]["analysis"]


def _status(when: datetime) -> CanaryStatus:
    return CanaryStatus.model_validate(
        {
            "observedGeneration": 1,
            "phase": "Progressing",
            "canaryWeight": 20,
            "failedChecks": 1,
            "iterations": 0,
            "lastAppliedSpec": "5d8f7c9b",
            "lastPromotedSpec": "7c6b5a49",
            "lastTransitionTime": when,
            "lastStepTime": when,
            "phaseSince": when,
            "trackedConfigs": {"configmap/podinfo-config": "0a1b2c"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Progressing",
                    "message": "Analysis of 5d8f7c9b: step 2 of 5",
                    "lastTransitionTime": when,
                    "observedGeneration": 1,
                },
                {
                    "type": "Promoted",
                    "status": "Unknown",
                    "reason": "Progressing",
                    "lastTransitionTime": when,
                },
            ],
            "checks": [
                {
                    "name": "request-success-rate",
                    "value": 99.5,
                    "verdict": "Pass",
                    "min": 99,
                    "time": when,
                },
                {
                    "name": "error-rate",
                    "value": None,
                    "verdict": "Fail",
                    "message": "no data: no traffic reached podinfo",
                    "max": 1,
                    "time": when,
                },
            ],
        }
    )


async def test_status_subresource_stores_the_whole_status_and_only_it(
    api: ApiClient, namespace: str, crds: list[str]
) -> None:
    assert crds
    objects = CustomObjectsApi(api)
    manifest = _example("canary.yaml") | {"status": {"phase": "Succeeded"}}
    created = await _create(api, namespace, "canaries", manifest)
    assert "status" not in created  # the main resource ignores status

    status = _status(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    patched = await objects.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        "canaries",
        "podinfo",
        [
            {"op": "add", "path": "/status", "value": status.to_manifest()},
            {"op": "replace", "path": "/spec/analysis/stepWeight", "value": 30},
        ],
    )
    assert patched["spec"]["analysis"]["stepWeight"] == 10  # the status endpoint ignores spec
    assert patched["status"]["checks"][1]["value"] is None
    assert CanaryStatus.model_validate(patched["status"]) == status

    with pytest.raises(ApiException) as refused:
        await objects.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            namespace,
            "canaries",
            "podinfo",
            [{"op": "replace", "path": "/status/canaryWeight", "value": 150}],
        )
    # The status endpoint names the field relative to status in the message, not in `field`.
    assert _causes(refused.value) == [
        _cause(
            "status.canaryWeight",
            "Invalid value: 150: canaryWeight in body should be less than or equal to 100",
        )
    ]


async def test_kubectl_get_canaries_prints_the_rollout_columns(
    api: ApiClient, namespace: str, crds: list[str], sandbox: SandboxState
) -> None:
    assert crds
    await _create(api, namespace, "canaries", _example("canary.yaml"))
    status = _status(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    await CustomObjectsApi(api).patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        namespace,
        "canaries",
        "podinfo",
        [{"op": "add", "path": "/status", "value": status.to_manifest()}],
    )
    result = _kubectl(sandbox, "--namespace", namespace, "get", "canaries")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == [
        "NAME",
        "STATUS",
        "WEIGHT",
        "FAILEDCHECKS",
        "LASTTRANSITIONTIME",
        "AGE",
    ]
    assert row.split()[:5] == ["podinfo", "Progressing", "20", "1", "2026-01-02T03:04:05Z"]


def _kubectl(sandbox: SandboxState, *args: str) -> subprocess.CompletedProcess[str]:
    """The sandbox's own kubectl (the pinned release), as `canary sandbox env` puts it on PATH."""
    path = os.pathsep.join([*sandbox.bin_dirs, os.environ.get("PATH", "")])
    env = {**os.environ, "KUBECONFIG": sandbox.kubeconfig, "PATH": path}
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, check=False)


def test_every_bad_manifest_differs_from_the_example_it_is_made_of() -> None:
    # A table entry whose change did nothing would "pass" for the wrong reason.
    for bad in BAD:
        example = _example("canary.yaml" if bad.kind == "canaries" else "metrictemplate.yaml")
        changed = copy.deepcopy(example)
        bad.change(changed)
        assert changed != example, bad.id
    assert len(BAD) >= 15
