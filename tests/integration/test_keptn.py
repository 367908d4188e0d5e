"""The Keptn provider against the sandbox's API server: KeptnMetric objects whose status.value the
test sets as Keptn's metrics operator would.

The KeptnMetric CRD installed here is a minimal one of this test's (group metrics.keptn.sh,
version v1beta1, a status subresource with `value` as a string, as Keptn's); the reads are the
real API server's. Checks run through the controller's path (`run_checks` with the API reader).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.api.canary import Canary
from canary.controller.checks import PrometheusPool, run_checks
from canary.core.model import CheckResult, Verdict
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.metrics.providers.keptn import KEPTN_METRIC
from tests.integration.crds import apply_with_crds

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


@pytest.fixture
async def pool() -> AsyncIterator[PrometheusPool]:
    prometheus = PrometheusPool(timeout=5)
    yield prometheus
    prometheus.close()


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
    api: ApiClient, namespace: str, pool: PrometheusPool, queries: dict[str, str]
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
            {"name": name, "templateRef": {"name": name}, "thresholdRange": {"min": 0, "max": 1}}
        )
    canary = Canary.model_validate(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 80},
                "analysis": {"interval": "1m", "stepWeight": 10, "metrics": metrics},
            },
        }
    )
    results = await run_checks(
        resources.api_reader(api),
        canary,
        pool=pool,
        default_url="http://127.0.0.1:1",
        default_provider="linkerd",
    )
    return {result.name: result for result in results}


async def test_keptn_metrics_give_their_verdicts_and_reasons(
    api: ApiClient, namespace: str, pool: PrometheusPool
) -> None:
    await install_crds(api, [KEPTN_METRIC_CRD])
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
            "analysis": f"analysis/{namespace}/definition/1m",
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
    assert "Keptn Analysis queries are not supported" in results["analysis"].message
    assert "a Keptn query is keptnmetric/<namespace>/<name>" in results["malformed"].message
    for name in ("nodata", "missing", "analysis", "malformed"):
        assert (results[name].verdict, results[name].value) == (Verdict.FAIL, None)
