"""`canary check`: manifests validated offline, in the words admission would use."""

from __future__ import annotations

import copy
import io
from pathlib import Path
from typing import Any

import pytest
import yaml

from canary.api.analysis import INTERVAL_RULE, METRIC_SOURCE_RULE, STEP_MODE_RULE, WEBHOOK_URL_RULE
from canary.api.canary import METRICS_SERVER_RULE, TARGET_AS_SERVICE_NAME_RULE, TARGET_NAME_RULE
from canary.cli.check.command import check_document
from canary.cli.main import main

REPOSITORY = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPOSITORY / "examples").glob("*/*.yaml"))
PODINFO = REPOSITORY / "examples" / "podinfo" / "canary.yaml"


def _canary() -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(PODINFO.read_text())
    return manifest


def _errors(manifest: Any, *, provider: str = "linkerd") -> list[str]:
    return [p.text for p in check_document(manifest, number=1, provider=provider).problems]


def _write(tmp_path: Path, *manifests: Any) -> Path:
    path = tmp_path / "manifests.yaml"
    path.write_text(yaml.safe_dump_all(manifests))
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_example_passes(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines
    assert all(line.endswith((": OK", "skipped (not a canary.dev kind)")) for line in lines), lines


def test_ok_and_skipped_objects_are_listed_by_kind_and_name(
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment = REPOSITORY / "examples" / "podinfo" / "deployment.yaml"
    assert main(["check", str(PODINFO), str(deployment)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{PODINFO}: Canary/podinfo: OK",
        f"{deployment}: Deployment/podinfo: skipped (not a canary.dev kind)",
    ]


def _broken(change: str) -> dict[str, Any]:
    manifest = _canary()
    analysis = manifest["spec"]["analysis"]
    match change:
        case "interval":
            analysis["interval"] = "2h"
        case "two-modes":
            analysis["iterations"] = 3
        case "source":
            analysis["metrics"][2].pop("templateRef")
        case "webhook":
            analysis["webhooks"] = [{"name": "load", "url": "ftp://loadtester/"}]
        case "metrics-server":
            manifest["spec"]["metricsServer"] = "prometheus:9090"
    return manifest


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("interval", f'spec.analysis.interval: Invalid value: "2h": {INTERVAL_RULE.message}'),
        ("two-modes", f"spec.analysis: Invalid value: {STEP_MODE_RULE.message}"),
        ("source", f"spec.analysis.metrics[2]: Invalid value: {METRIC_SOURCE_RULE.message}"),
        (
            "webhook",
            (
                f'spec.analysis.webhooks[0].url: Invalid value: "ftp://loadtester/": '
                f"{WEBHOOK_URL_RULE.message}"
            ),
        ),
        (
            "metrics-server",
            f'spec.metricsServer: Invalid value: "prometheus:9090": {METRICS_SERVER_RULE.message}',
        ),
    ],
)
def test_cel_rules_are_reported_with_admissions_message(change: str, expected: str) -> None:
    assert _errors(_broken(change)) == [expected]


def test_openapi_refusals_read_as_the_api_server_writes_them() -> None:
    manifest = _canary()
    manifest["spec"]["targetRef"]["kind"] = "StatefulSet"
    manifest["spec"]["service"]["port"] = 98980
    manifest["spec"]["analysis"]["threshold"] = 0
    manifest["spec"]["analysis"]["maxWeight"] = "50"
    del manifest["spec"]["targetRef"]["name"]
    assert _errors(manifest) == [
        (
            'spec.analysis.maxWeight: Invalid value: "string": spec.analysis.maxWeight in body '
            'must be of type integer: "string"'
        ),
        (
            'spec.targetRef.kind: Unsupported value: "StatefulSet": supported values: '
            '"Deployment", "DaemonSet", "Service"'
        ),
        "spec.targetRef.name: Required value",
        (
            "spec.service.port: Invalid value: 98980: spec.service.port in body should be less "
            "than or equal to 65535"
        ),
        (
            "spec.analysis.threshold: Invalid value: 0: spec.analysis.threshold in body should be "
            "greater than or equal to 1"
        ),
    ]


def test_unknown_fields_and_duplicate_keys_are_refused_as_kubectl_refuses_them() -> None:
    manifest = _canary()
    analysis = manifest["spec"]["analysis"]
    analysis["stepweight"] = 5  # the typo that would otherwise do nothing
    analysis["metrics"].append(copy.deepcopy(analysis["metrics"][0]))
    manifest["metadata"]["labels"] = {"free": "form"}  # metadata is not checked here
    assert _errors(manifest) == [  # in the order of the document
        'spec.analysis.metrics[3]: Duplicate value: {"name":"request-success-rate"}',
        'spec.analysis.stepweight: unknown field "spec.analysis.stepweight"',
    ]


def test_the_controllers_routing_rules_apply_to_valid_canaries() -> None:
    manifest = yaml.safe_load((REPOSITORY / "examples" / "ab-testing" / "canary.yaml").read_text())
    manifest["spec"]["provider"] = "linkerd"
    (error,) = _errors(manifest)
    assert error.startswith("not supported: spec.analysis.match with provider linkerd")
    assert error.endswith("(nothing is released while they are set)")
    manifest["spec"].pop("provider")
    assert _errors(manifest, provider="smi:v1alpha3") == []


def test_source_labels_pass_with_istio_and_are_refused_naming_the_field_elsewhere() -> None:
    manifest = yaml.safe_load((REPOSITORY / "examples" / "ab-testing" / "canary.yaml").read_text())
    manifest["spec"]["analysis"]["match"] = [{"sourceLabels": {"app": "frontend"}}]
    manifest["spec"]["provider"] = "istio"
    assert _errors(manifest) == []
    manifest["spec"]["provider"] = "gatewayapi:v1"
    (error,) = _errors(manifest)
    assert error.startswith(
        "not supported: spec.analysis.match[].sourceLabels with provider gatewayapi:v1"
    )


def test_metric_templates_and_alert_providers_are_checked_too() -> None:
    template = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "MetricTemplate",
        "metadata": {"name": "t"},
        "spec": {"provider": {"type": "opentsdb"}, "query": "up"},
    }
    assert _errors(template) == [
        (
            'spec.provider.type: Unsupported value: "opentsdb": supported values: "prometheus",'
            ' "graphite", "influxdb", "datadog", "newrelic", "dynatrace", "cloudwatch",'
            ' "stackdriver", "splunk", "keptn"'
        )
    ]
    provider = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "AlertProvider",
        "metadata": {"name": "slack"},
        "spec": {"type": "slack"},
    }
    assert _errors(provider) == [
        "spec: Invalid value: exactly one of address or secretRef must be set"
    ]


def test_a_file_with_errors_exits_1_and_names_file_object_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, _canary(), _broken("interval"), {"apiVersion": "v1"})
    assert main(["check", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: Canary/podinfo: OK",
        (
            f'{path}: Canary/podinfo: spec.analysis.interval: Invalid value: "2h": '
            f"{INTERVAL_RULE.message}"
        ),
        f"{path}: document 3: not a Kubernetes object (no kind)",
    ]


def test_another_providers_field_is_a_warning_that_keeps_exit_code_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _canary()
    manifest["spec"]["service"]["trafficPolicy"] = {"tls": {"mode": "ISTIO_MUTUAL"}}
    path = _write(tmp_path, manifest)
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: Canary/podinfo: OK",
        (
            f"{path}: Canary/podinfo: warning: spec.service.trafficPolicy is an Istio setting, "
            "ignored with provider linkerd as Flagger ignores it (the release goes on without it)"
        ),
    ]


def test_stdin_is_read_for_a_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PODINFO.read_text()))
    assert main(["check", "-"]) == 0
    assert capsys.readouterr().out == "-: Canary/podinfo: OK\n"


def test_unreadable_files_and_bad_yaml_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Canary\n  metadata: [")
    assert main(["check", str(tmp_path / "missing.yaml"), str(bad)]) == 1
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith(f"{tmp_path / 'missing.yaml'}: cannot read:")
    assert second.startswith(f"{bad}: not valid YAML:")


def test_a_name_is_required() -> None:
    manifest = _canary()
    del manifest["metadata"]["name"]
    assert _errors(manifest) == ["metadata.name: Required value: name or generateName is required"]


def test_metadata_is_checked_as_the_api_server_checks_it() -> None:
    # Each of these is accepted by the models; the API server refuses them all.
    manifest = _canary()
    manifest["metadata"] = {
        "generateName": "PodInfo-",
        "labels": {"app": "pod info"},
        "annotations": {"note": "x" * 256 * 1024},
    }
    errors = _errors(manifest)
    assert [e.split(":")[0] for e in errors] == [
        "metadata.generateName",
        "metadata.name",  # named from the prefix before it is validated
        "metadata.labels",
        "metadata.annotations",
    ]
    assert errors[1].startswith('metadata.name: Invalid value: "PodInfo-xxxxx": a lowercase')
    assert errors[-1] == "metadata.annotations: Too long: may not be more than 262144 bytes"
    manifest["metadata"] = {"name": "p" * 254}
    assert _errors(manifest) == [
        f'metadata.name: Invalid value: "{"p" * 254}": must be no more than 253 characters'
    ]


@pytest.mark.parametrize(
    ("target", "service", "expected"),
    [
        ("p" * 56, None, f"spec: Invalid value: {TARGET_AS_SERVICE_NAME_RULE.message}"),
        ("podinfo.v2", None, f"spec: Invalid value: {TARGET_AS_SERVICE_NAME_RULE.message}"),
        (
            "p" * 246,
            "web",
            f'spec.targetRef.name: Invalid value: "{"p" * 246}": {TARGET_NAME_RULE.message}',
        ),
    ],
)
def test_names_the_services_or_the_primary_could_not_have_are_refused(
    target: str, service: str | None, expected: str
) -> None:
    manifest = _canary()
    manifest["spec"]["targetRef"]["name"] = target
    if service is not None:
        manifest["spec"]["service"]["name"] = service
    assert _errors(manifest) == [expected]
    manifest["spec"]["service"]["name"] = "web"
    manifest["spec"]["targetRef"]["name"] = target[:245]
    assert _errors(manifest) == []


@pytest.mark.parametrize("provider", ["kubernetes", "gatewayapi:v1", "gatewayapi:v1beta1"])
def test_builtin_metrics_are_accepted_for_every_provider_routed(provider: str) -> None:
    manifest = yaml.safe_load((REPOSITORY / "examples" / "bluegreen" / "canary.yaml").read_text())
    manifest["spec"]["provider"] = provider
    manifest["spec"]["service"]["gatewayRefs"] = [{"name": "public"}]
    manifest["spec"]["analysis"]["metrics"] = [
        {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
    ]
    if provider != "kubernetes":
        manifest["spec"]["analysis"].pop("iterations")
        manifest["spec"]["analysis"]["stepWeight"] = 10
    assert _errors(manifest) == []


def test_a_builtin_metric_without_a_query_for_the_provider_is_named() -> None:
    """The controller's default provider (when the Canary sets none) may have no builtins."""
    manifest = _canary()
    manifest["spec"].pop("provider", None)
    (error,) = _errors(manifest, provider="no-such-mesh")
    assert error.startswith("not supported: spec.provider: unknown traffic provider")
    assert (
        "spec.analysis.metrics[request-success-rate] with provider no-such-mesh (no "
        "builtin request-success-rate query for it: give the metric a templateRef)"
    ) in error
