"""Keptn: the value of a KeptnMetric custom resource (metrics.keptn.sh/v1beta1).

Flagger's semantics: the query is `keptnmetric/<namespace>/<name>` (case-insensitive,
`keptnmetrics` too); the value is the KeptnMetric's `status.value`, a string holding a number,
which Keptn's metrics operator keeps up to date. There is no address and no secretRef: the
object is read with the controller's own Kubernetes access (its watch caches, else the API
server), so the controller's role needs `get` on `keptnmetrics.metrics.keptn.sh` (Helm:
`rbac.extraRules`). A missing object, a missing or empty `status.value` and a refused read each
fail with their reason (a missing object is a query error, an empty value no data).

`analysis/<namespace>/<definition>/<duration>/<key=value;...>` runs a Keptn Analysis, as
Flagger does: it creates an Analysis of that AnalysisDefinition over the `recent` duration
(default 1m) with the arguments, waits (up to 10 s, and the query's time limit) for Keptn to
set `status.state` to Completed, reads `status.pass` as 1 or 0, and deletes the Analysis.
Unlike Flagger, an Analysis is only created in the Canary's own namespace (a template cannot
make the controller write into another team's), and the query keeps its case (Flagger
lowercases it all, arguments too). The controller's role then needs `create`, `get` and
`delete` on `analyses.metrics.keptn.sh`. This module must not judge thresholds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import structlog

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.errors import KubeError
from canary.kube.resources import Reader, resource_kind
from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import finite
from canary.metrics.providers.settings import Connections, ProviderSettings

_log = structlog.get_logger(__name__)
KEPTN_METRIC = resource_kind("metrics.keptn.sh/v1beta1", "KeptnMetric")
ANALYSIS = resource_kind("metrics.keptn.sh/v1beta1", "Analysis")
ANALYSIS_WAIT = 10.0
POLL_SECONDS = 0.5
_FORMAT = "keptnmetric/<namespace>/<name> or analysis/<namespace>/<definition>[/<duration>]"


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    if connections.read is None:
        raise MetricError(
            FailureKind.INTERNAL, "provider keptn needs the controller's Kubernetes reader"
        )
    return KeptnClient(
        connections.read,
        api=connections.api,
        namespace=settings.namespace,
        wait=min(ANALYSIS_WAIT, connections.timeout),
    )


class KeptnClient:
    """Reads KeptnMetrics through the controller's Kubernetes reader, and runs Analyses in the
    Canary's namespace through its API client."""

    def __init__(self, read: Reader, *, api: ApiClient | None, namespace: str, wait: float):
        self._read = read
        self._api = api
        self._namespace = namespace
        self._wait = wait

    async def query(self, query: str) -> float:
        parts = query.strip().split("/")
        if len(parts) < 3 or not all(parts[:3]):
            raise MetricError(
                FailureKind.TEMPLATE_ERROR,
                f"a Keptn query is {_FORMAT}, not {query.strip()[:100]!r}",
            )
        kind, namespace, name = parts[0].lower(), parts[1], parts[2]
        if kind in ("analysis", "analyses"):
            return await self._analysis(namespace, name, parts[3:])
        if kind not in ("keptnmetric", "keptnmetrics"):
            raise MetricError(
                FailureKind.TEMPLATE_ERROR,
                f"a Keptn query starts with keptnmetric (or analysis), not {kind[:40]!r}",
            )
        where = f"KeptnMetric {namespace}/{name}"
        try:
            found = await self._read(KEPTN_METRIC, namespace, name)
        except KubeError as error:
            kind_of = (
                FailureKind.AUTH_REFUSED if error.status in (401, 403) else (FailureKind.HTTP_ERROR)
            )
            raise MetricError(kind_of, f"{where}: {error}") from None
        if found is None:
            raise MetricError(FailureKind.QUERY_ERROR, f"{where} not found")
        status = found.get("status")
        value = status.get("value") if isinstance(status, dict) else None
        if value is None or value == "":
            raise MetricError(
                FailureKind.NO_DATA,
                f"no data: {where} has no status.value yet (is Keptn's metrics operator running?)",
            )
        return finite(value, what=f"{where} status.value")

    async def _analysis(self, namespace: str, definition: str, rest: list[str]) -> float:
        api = self._api
        if api is None:
            raise MetricError(FailureKind.INTERNAL, "Keptn Analyses need the controller's API")
        if namespace != self._namespace:
            raise MetricError(
                FailureKind.TEMPLATE_ERROR,
                f"a Keptn Analysis runs in the Canary's namespace ({self._namespace}), not in"
                f" {namespace}: the controller creates no object in another namespace",
            )
        duration = rest[0] if rest and rest[0] else "1m"
        arguments = dict(
            pair.split("=", 1)
            for pair in (rest[1] if len(rest) > 1 else "").split(";")
            if "=" in pair
        )
        name = f"{definition[:50]}-{uuid.uuid4().hex[:6]}"
        where = f"Keptn Analysis {namespace}/{name}"
        manifest: dict[str, Any] = {
            "apiVersion": ANALYSIS.api_version,
            "kind": "Analysis",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/managed-by": "canary"},
            },
            "spec": {
                "analysisDefinition": {"name": definition},
                "timeframe": {"recent": duration},
                "args": arguments,
            },
        }
        try:
            await resources.create(api, manifest)
        except KubeError as error:
            raise _kube_error(f"{where}: cannot create it", error) from None
        try:
            return await self._outcome(api, namespace, name, where)
        finally:
            await asyncio.shield(_delete(api, namespace, name))

    async def _outcome(self, api: ApiClient, namespace: str, name: str, where: str) -> float:
        deadline = time.monotonic() + self._wait
        while True:
            try:
                found = await resources.get(api, ANALYSIS, name, namespace=namespace)
            except KubeError as error:
                raise _kube_error(where, error) from None
            status = (found or {}).get("status") or {}
            if status.get("state") == "Completed" and isinstance(status.get("pass"), bool):
                return 1.0 if status["pass"] else 0.0
            if time.monotonic() + POLL_SECONDS > deadline:
                raise MetricError(
                    FailureKind.TIMEOUT,
                    f"{where} not completed within {self._wait:g}s (state:"
                    f" {status.get('state') or 'none'}); is Keptn's metrics operator running?",
                )
            await asyncio.sleep(POLL_SECONDS)


async def _delete(api: ApiClient, namespace: str, name: str) -> None:
    """Delete a finished Analysis; a failure is logged (the object is labelled managed-by
    canary, for a person to find) and never fails the check."""
    try:
        await resources.delete(api, ANALYSIS, name, namespace=namespace)
    except KubeError as error:
        _log.warning("keptn_analysis_not_deleted", namespace=namespace, name=name, error=str(error))


def _kube_error(where: str, error: KubeError) -> MetricError:
    kind = FailureKind.AUTH_REFUSED if error.status in (401, 403) else FailureKind.HTTP_ERROR
    return MetricError(kind, f"{where}: {error}")
