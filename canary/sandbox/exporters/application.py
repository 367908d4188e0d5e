"""The application's own histogram, `http_request_duration_seconds`, as podinfo exports it.

Labelled by status, with the labels Prometheus's pod discovery would add (`kubernetes_namespace`,
`kubernetes_pod_name`; Flagger's `kubernetes-pods` scrape job), since the sandbox has no pods to
discover: the builtins of `kubernetes` and `gatewayapi:*` select on them. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator

from canary.sandbox.exporters.base import Exported, Family, Latency, MeshsimProvider, Outcome

DURATION = Family(
    "http_request_duration_seconds", "Seconds spent serving HTTP requests.", "histogram"
)


def series(workload: Exported) -> Iterator[Latency]:
    pod = {
        "kubernetes_namespace": workload.key[0],
        "kubernetes_pod_name": workload.pod_name,
        "method": "GET",
        "path": "/",
    }
    yield Latency(DURATION, {**pod, "status": "200"}, Outcome.SUCCEEDED, seconds=True)
    yield Latency(DURATION, {**pod, "status": "500"}, Outcome.FAILED, seconds=True)


PROVIDER = MeshsimProvider(name="application", families=(DURATION,), series=series)
