"""The Keptn provider against the sandbox's API server: KeptnMetric objects whose status.value the
test sets as Keptn's metrics operator would, and Analyses the test completes as Keptn would.

The KeptnMetric and Analysis CRDs installed here are minimal ones of this test's (group
metrics.keptn.sh, version v1beta1, status subresources with Keptn's field names); the reads
and writes are the real API server's. Checks run through the controller's path (`run_checks`
with the API reader and client).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.controller.checks import PrometheusPool
from canary.core.model import CheckResult, Verdict
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.errors import KubeError
from canary.kube.resources import ResourceKind
from canary.metrics.providers.keptn import ANALYSIS, KEPTN_METRIC
from tests.integration.crds import apply_with_crds
from tests.integration.metric_checks import canary_with, check_results
from tests.integration.waiting import eventually

pytestmark = pytest.mark.integration

KEPTN_METRIC_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "keptnmetrics.metrics.keptn.sh"},
    "spec": {
        "group": "metrics.keptn.sh",
        "names": {
            "kind": "KeptnMetric",
            "listKind": "KeptnMetricList",
            "plural": "keptnmetrics",
            "singular": "keptnmetric",
        },
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1beta1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "value": {"type": "string"},
                                    "rawValue": {"type": "string", "format": "byte"},
                                    "lastUpdated": {"type": "string", "format": "date-time"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}


def _crd(kind: str, plural: str, status: dict[str, Any]) -> dict[str, Any]:
    crd: dict[str, Any] = json.loads(json.dumps(KEPTN_METRIC_CRD))
    crd["metadata"]["name"] = f"{plural}.metrics.keptn.sh"
    crd["spec"]["names"] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": kind.lower(),
    }
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["status"]["properties"] = status
    return crd


ANALYSIS_CRD = _crd(
    "Analysis",
    "analyses",
    {"state": {"type": "string"}, "pass": {"type": "boolean"}, "raw": {"type": "string"}},
)


async def _install(api: ApiClient, crd: dict[str, Any], kind: ResourceKind) -> None:
    """Install `crd` and wait until its objects are served (Established comes a little before:
    for a moment the API server still answers 404 or 429 "storage is (re)initializing")."""
    await install_crds(api, [crd])

    async def served() -> bool:
        try:
            return await resources.list_objects(api, kind, namespace="default") is not None
        except KubeError:
            return False

    await eventually(served, until=bool, within=30, what=f"{kind.plural} served")


async def _keptn_metric(api: ApiClient, namespace: str, name: str, value: str | None) -> None:
    """A KeptnMetric, and (when `value` is not None) the status Keptn's operator would write."""
    created = await resources.create(
        api,
        {
            "apiVersion": "metrics.keptn.sh/v1beta1",
            "kind": "KeptnMetric",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "provider": {"name": "prometheus"},
                "query": "sum(rate(http_requests_total{status_code='500'}[1m]))",
                "fetchIntervalSeconds": 10,
            },
        },
    )
    if value is not None:
        created["status"] = {"value": value, "lastUpdated": "2026-01-01T00:00:00Z"}
        await resources.replace_status(api, KEPTN_METRIC, created)


async def _checks(
    api: ApiClient,
    namespace: str,
    pool: PrometheusPool,
    queries: dict[str, str],
    *,
    minimum: float = 0,
) -> dict[str, CheckResult]:
    metrics = []
    for name, query in queries.items():
        await apply_with_crds(
            api,
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "MetricTemplate",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"provider": {"type": "keptn"}, "query": query},
            },
        )
        metrics.append(
            {
                "name": name,
                "templateRef": {"name": name},
                "thresholdRange": {"min": minimum, "max": 1},
            }
        )
    return await check_results(api, pool, canary_with(namespace, metrics), lend_api=True)


async def test_keptn_metrics_give_their_verdicts_and_reasons(
    api: ApiClient, namespace: str, pool: PrometheusPool
) -> None:
    await _install(api, KEPTN_METRIC_CRD, KEPTN_METRIC)
    await _keptn_metric(api, namespace, "error-rate", "0.5")
    await _keptn_metric(api, namespace, "latency", "7")
    await _keptn_metric(api, namespace, "pending", None)
    results = await _checks(
        api,
        namespace,
        pool,
        {
            "pass": f"keptnmetric/{namespace}/error-rate",
            "fail": f"KeptnMetrics/{namespace}/latency",
            "nodata": f"keptnmetric/{namespace}/pending",
            "missing": f"keptnmetric/{namespace}/absent",
            "malformed": "keptnmetric/only-two",
        },
    )
    assert (results["pass"].verdict, results["pass"].value) == (Verdict.PASS, 0.5)
    assert (results["fail"].verdict, results["fail"].value) == (Verdict.FAIL, 7.0)
    assert "fail 7.00 > 1 (max)" in results["fail"].message
    assert f"no data: KeptnMetric {namespace}/pending has no status.value yet" in (
        results["nodata"].message
    )
    assert f"KeptnMetric {namespace}/absent not found" in results["missing"].message
    assert "a Keptn query is keptnmetric/<namespace>/<name>" in results["malformed"].message
    for name in ("nodata", "missing", "malformed"):
        assert (results[name].verdict, results[name].value) == (Verdict.FAIL, None)


async def _play_keptn(api: ApiClient, namespace: str, seen: list[dict[str, Any]]) -> None:
    """Complete every new Analysis as Keptn's operator would: pass when its `result` argument
    says so, fail when it says fail; one whose argument is `never` is left running."""
    done: set[str] = set()
    while True:
        for analysis in await resources.list_objects(api, ANALYSIS, namespace=namespace) or []:
            name = analysis["metadata"]["name"]
            result = (analysis["spec"].get("args") or {}).get("result")
            if name in done or result == "never":
                continue
            seen.append(analysis)
            analysis["status"] = {"state": "Completed", "pass": result == "pass", "raw": "{}"}
            with contextlib.suppress(Exception):  # deleted meanwhile: nothing to complete
                await resources.replace_status(api, ANALYSIS, analysis)
            done.add(name)
        await asyncio.sleep(0.2)  # the simulated operator's own resync period


async def test_keptn_analyses_are_created_judged_and_deleted(
    api: ApiClient, namespace: str, pool: PrometheusPool
) -> None:
    await _install(api, ANALYSIS_CRD, ANALYSIS)
    seen: list[dict[str, Any]] = []
    operator = asyncio.create_task(_play_keptn(api, namespace, seen))
    try:
        results = await _checks(
            api,
            namespace,
            pool,
            {
                "passing": f"analysis/{namespace}/error-budget/5m/result=pass;service=podinfo",
                "failing": f"analysis/{namespace}/error-budget/5m/result=fail",
                "pending": f"analysis/{namespace}/error-budget/5m/result=never",
                "elsewhere": "analysis/kube-system/error-budget/5m/result=pass",
            },
            minimum=1,
        )
    finally:
        operator.cancel()
    assert (results["passing"].verdict, results["passing"].value) == (Verdict.PASS, 1.0)
    assert (results["failing"].verdict, results["failing"].value) == (Verdict.FAIL, 0.0)
    assert "not completed within 5s (state: none)" in results["pending"].message
    assert results["pending"].verdict is Verdict.FAIL
    assert "runs in the Canary's namespace" in results["elsewhere"].message
    # What was created is Keptn's Analysis, with the definition, window and arguments.
    specs = sorted((a["spec"]["args"]["result"], json.dumps(a["spec"])) for a in seen)
    passing = json.loads(specs[1][1])
    assert passing == {
        "analysisDefinition": {"name": "error-budget"},
        "timeframe": {"recent": "5m"},
        "args": {"result": "pass", "service": "podinfo"},
    }
    # Every Analysis is deleted once read (the pending one too), none in kube-system.

    async def left() -> list[dict[str, Any]]:
        return await resources.list_objects(api, ANALYSIS, namespace=namespace) or []

    await eventually(left, until=lambda items: items == [], within=30, what="Analyses deleted")
    assert await resources.list_objects(api, ANALYSIS, namespace="kube-system") == []
