"""Keptn: the value of a KeptnMetric custom resource (metrics.keptn.sh/v1beta1).

Flagger's semantics: the query is `keptnmetric/<namespace>/<name>` (case-insensitive,
`keptnmetrics` too); the value is the KeptnMetric's `status.value`, a string holding a number,
which Keptn's metrics operator keeps up to date. There is no address and no secretRef: the
object is read with the controller's own Kubernetes access (its watch caches, else the API
server), so the controller's role needs `get` on `keptnmetrics.metrics.keptn.sh` (Helm:
`rbac.extraRules`). A missing object, a missing or empty `status.value` and a refused read each
fail with their reason (a missing object is a query error, an empty value no data).

Flagger also runs Keptn Analyses (`analysis/<namespace>/<definition>/<duration>/<args>`: it
creates an Analysis, waits up to 10 s for Keptn to complete it and reads pass/fail as 1/0).
That form is not implemented here: it fails with `UnsupportedProvider` saying so. This module
must not judge thresholds.
"""

from __future__ import annotations

from canary.kube.errors import KubeError
from canary.kube.resources import Reader, resource_kind
from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import finite
from canary.metrics.providers.settings import Connections, ProviderSettings

KEPTN_METRIC = resource_kind("metrics.keptn.sh/v1beta1", "KeptnMetric")
_FORMAT = "keptnmetric/<namespace>/<name>"


def connect(_settings: ProviderSettings, connections: Connections) -> QueryClient:
    if connections.read is None:
        raise MetricError(
            FailureKind.INTERNAL, "provider keptn needs the controller's Kubernetes reader"
        )
    return KeptnClient(connections.read)


class KeptnClient:
    """Reads KeptnMetrics through the controller's Kubernetes reader."""

    def __init__(self, read: Reader) -> None:
        self._read = read

    async def query(self, query: str) -> float:
        parts = query.strip().lower().split("/")
        if len(parts) < 3 or not all(parts[:3]):
            raise MetricError(
                FailureKind.TEMPLATE_ERROR,
                f"a Keptn query is {_FORMAT}, not {query.strip()[:100]!r}",
            )
        kind, namespace, name = parts[:3]
        if kind in ("analysis", "analyses"):
            raise MetricError(
                FailureKind.UNSUPPORTED_PROVIDER,
                "Keptn Analysis queries are not supported by this controller yet; query a"
                f" KeptnMetric ({_FORMAT})",
            )
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
