"""Running metric checks as the controller does, for the metric provider tests: the Secret a
template's `spec.provider.secretRef` names, a Canary `podinfo` whose analysis holds the given
metrics, and its checks judged by `run_checks` with the API server's reader.

Nothing here creates MetricTemplates or servers: each test makes its own.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from kubernetes_asyncio.client import ApiClient

from canary.api.canary import Canary
from canary.controller.checks import PrometheusPool, run_checks
from canary.core.model import CheckResult
from canary.kube import resources


def opaque_secret(name: str, namespace: str, values: Mapping[str, str]) -> dict[str, Any]:
    """An Opaque Secret holding `values`."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }


def canary_with(namespace: str, metrics: list[dict[str, Any]], **analysis: Any) -> Canary:
    """A Canary `podinfo` whose analysis (interval 1m, stepWeight 10, and `analysis`) holds
    `metrics`."""
    return Canary.model_validate(
        {
            "apiVersion": "canary.dev/v1alpha1",
            "kind": "Canary",
            "metadata": {"name": "podinfo", "namespace": namespace},
            "spec": {
                "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
                "service": {"port": 80},
                "analysis": {"interval": "1m", "stepWeight": 10, **analysis, "metrics": metrics},
            },
        }
    )


async def check_results(
    api: ApiClient, pool: PrometheusPool, canary: Canary, *, lend_api: bool = False
) -> dict[str, CheckResult]:
    """`canary`'s check results by metric name; `lend_api` gives the providers the API client
    (Keptn's metrics are custom resources)."""
    results = await run_checks(
        resources.api_reader(api),
        canary,
        pool=pool,
        default_url="http://127.0.0.1:1",
        default_provider="linkerd",
        api=api if lend_api else None,
    )
    return {result.name: result for result in results}
