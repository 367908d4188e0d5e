"""The generated CRDs, installed in a real API server: what they admit, refuse, print and store.

Every refusal is asserted with the API server's exact words (field and message of each cause in
the 422's details), because those words are what a user reads in `kubectl apply`. The table of
good and bad manifests is the admission corpus (`tests/admission_corpus/`, run by
`test_admission_corpus.py` through the API server and `canary check` alike); this module holds
what a table of single manifests cannot show: immutability, pruning, the status subresource and
the printed columns.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException

from canary.api import GROUP, VERSION, Canary, CanaryStatus, MetricTemplate
from canary.sandbox.state import SandboxState
from tests.admission_corpus import cause, rule_cause
from tests.integration.crds import install_crds

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "podinfo"
Manifest = dict[str, Any]


def _example(name: str) -> Manifest:
    manifest: Manifest = yaml.safe_load((EXAMPLES / name).read_text())
    return manifest


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
        rule_cause("spec.targetRef", "targetRef is immutable; create a new Canary")
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
    # The main resource ignores status: what is served is the CRD's default (for kstatus).
    assert created["status"] == {"observedGeneration": 0}

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
        cause(
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
