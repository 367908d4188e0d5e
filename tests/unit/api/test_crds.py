"""The generated CRDs: deterministic, structural, what `kubectl get` prints, and committed as
generated (this is the test that fails when a model changes without `python -m canary.api.crdgen`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml

from canary.api import analysis, canary, metrictemplate
from canary.api.base import ApiModel, CelRule
from canary.api.crd import (
    alert_provider_crd,
    all_crds,
    canary_crd,
    metric_template_crd,
    render,
)
from canary.api.crdgen import DEFAULT_DIR, differences, main
from canary.api.foreign import PROVIDER_RULE, SERVICE_FIELDS, SPEC_FIELDS
from canary.api.schema import SchemaError, structural

REPOSITORY_CRDS = Path(__file__).resolve().parents[3] / "crds"


def _schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def _nodes(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node under `node`, with its dotted path."""
    if not isinstance(node, dict):
        return
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from _nodes(node[key], f"{path}[]")


def _at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    return dict(_nodes(schema))[path]


def test_the_committed_crds_are_what_the_models_generate() -> None:
    assert DEFAULT_DIR == REPOSITORY_CRDS
    stale = differences(REPOSITORY_CRDS)
    assert stale == [], "crds/ is stale; run `python -m canary.api.crdgen`\n" + "".join(stale)


def test_generation_is_deterministic() -> None:
    first = {name: render(crd) for name, crd in all_crds().items()}
    second = {name: render(crd) for name, crd in all_crds().items()}
    assert first == second
    for text in first.values():
        assert text.startswith("# Generated from the models in canary/api by ")
        assert yaml.safe_load(text)["kind"] == "CustomResourceDefinition"


def test_check_fails_on_a_stale_file_and_passes_once_regenerated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    stale = tmp_path / "canaries.yaml"
    stale.write_text(stale.read_text().replace("maxLength: 2048", "maxLength: 4096"))
    capsys.readouterr()
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    lines = error.splitlines()
    assert any(line.startswith("-") and line.endswith("maxLength: 4096") for line in lines)
    assert any(line.startswith("+") and line.endswith("maxLength: 2048") for line in lines)
    assert "differ from the models; run `python -m canary.api.crdgen`" in error
    (tmp_path / "metrictemplates.yaml").unlink()
    assert len(differences(tmp_path)) == 2


@pytest.mark.parametrize(
    "crd",
    [canary_crd(), metric_template_crd(), alert_provider_crd()],
    ids=["canary", "template", "alertprovider"],
)
def test_the_schema_is_structural_and_bounded(crd: dict[str, Any]) -> None:
    for path, node in _nodes(_schema(crd)):
        if path in {".apiVersion", ".kind", ".metadata"}:
            continue  # the API server's own, as in every CRD
        for keyword in ("$ref", "$defs", "anyOf", "oneOf", "allOf", "title", "const"):
            assert keyword not in node, f"{path}: {keyword}"
        if path != ".status" or crd["spec"]["names"]["kind"] != "Canary":
            # The only default: a Canary not judged yet reads observedGeneration 0 (kstatus).
            assert "default" not in node, f"{path}: default"
        assert "type" in node or node.get("x-kubernetes-int-or-string"), path
        assert node.get("type") != "null", path
        if node.get("type") == "string" and "enum" not in node and "format" not in node:
            assert "maxLength" in node, path
        if node.get("type") == "array":
            assert "maxItems" in node, path


def test_the_canary_crd_names_columns_and_scope() -> None:
    crd = canary_crd()
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "canaries.canary.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "Canary",
        "listKind": "CanaryList",
        "plural": "canaries",
        "singular": "canary",
        "categories": ["all"],
    }
    version = spec["versions"][0]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = [(c["name"], c["jsonPath"], c["type"]) for c in version["additionalPrinterColumns"]]
    assert columns == [
        ("Status", ".status.phase", "string"),
        ("Weight", ".status.canaryWeight", "integer"),
        ("FailedChecks", ".status.failedChecks", "integer"),
        ("LastTransitionTime", ".status.lastTransitionTime", "string"),
        ("Age", ".metadata.creationTimestamp", "date"),
    ]


def test_the_canary_schema_keeps_flaggers_shapes() -> None:
    schema = _schema(canary_crd())
    assert schema["required"] == ["spec"]
    # As Flagger's: `service` may be left out (a Knative target needs none; any other target
    # is refused without it by a CEL rule).
    assert _at(schema, ".spec")["required"] == ["targetRef", "analysis"]
    for path in (
        ".spec.analysis.threshold",
        ".spec.analysis.stepWeight",
        ".spec.analysis.stepWeights[]",
        ".spec.service.port",
        ".spec.progressDeadlineSeconds",
        ".spec.analysis.webhooks[].retries",
        ".status.canaryWeight",
        ".status.failedChecks",
    ):
        assert _at(schema, path)["type"] == "integer", path
    assert _at(schema, ".spec.service.targetPort") == {
        "description": _at(schema, ".spec.service.targetPort")["description"],
        "x-kubernetes-int-or-string": True,
        "x-kubernetes-validations": [canary.TARGET_PORT_RULE.schema()],
    }
    assert _at(schema, ".spec.analysis.webhooks[].type")["enum"] == list(
        get_args(analysis.WebhookType)
    )
    provider = _at(schema, ".spec.provider")
    assert "enum" not in provider, "a CEL rule names the provider refused"
    assert provider["x-kubernetes-validations"] == [PROVIDER_RULE.schema()]
    assert _at(schema, ".spec.targetRef.kind")["enum"] == ["Deployment", "DaemonSet", "Service"]
    for path in (".spec.analysis.metrics", ".spec.analysis.webhooks", ".status.checks"):
        node = _at(schema, path)
        assert node["x-kubernetes-list-type"] == "map", path
        assert node["x-kubernetes-list-map-keys"] == ["name"], path
        assert "name" in node["items"]["required"], path
    assert _at(schema, ".status.conditions")["x-kubernetes-list-map-keys"] == ["type"]
    assert _at(schema, ".status.checks[].value") == {
        "description": _at(schema, ".status.checks[].value")["description"],
        "type": "number",
        "nullable": True,
    }
    assert _at(schema, ".status.lastTransitionTime")["format"] == "date-time"
    assert _at(schema, ".spec.analysis.interval")["pattern"] == "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"


def _rules_in(crd: dict[str, Any]) -> set[str]:
    return {
        rule["message"]
        for _, node in _nodes(_schema(crd))
        for rule in node.get("x-kubernetes-validations", [])
    }


def _rules_of(*modules: object) -> set[str]:
    return {
        value.message
        for module in modules
        for value in vars(module).values()
        if isinstance(value, CelRule)
    }


def test_every_cel_rule_of_the_models_is_in_its_crd() -> None:
    foreign_rules = {f.message for f in (*SPEC_FIELDS, *SERVICE_FIELDS) if f.rule() is not None}
    assert _rules_in(canary_crd()) == _rules_of(analysis, canary) | foreign_rules
    assert _rules_in(metric_template_crd()) == _rules_of(metrictemplate)
    assert len(_rules_in(canary_crd())) == 25 + len(foreign_rules)


def test_the_target_ref_rule_is_a_transition_rule_on_target_ref() -> None:
    rules = _at(_schema(canary_crd()), ".spec.targetRef")["x-kubernetes-validations"]
    assert rules[-1] == {
        "rule": "self == oldSelf",
        "message": "targetRef is immutable; create a new Canary",
    }
    assert [rule for rule in rules if "oldSelf" in rule["rule"]] == [rules[-1]]


class _Unbounded(ApiModel):
    note: str


class _Union(ApiModel):
    either: int | list[int]


def test_the_generator_refuses_what_a_crd_cannot_say() -> None:
    with pytest.raises(SchemaError, match="a string needs maxLength"):
        structural(_Unbounded.model_json_schema())
    with pytest.raises(SchemaError, match="has no structural form"):
        structural(_Union.model_json_schema())
