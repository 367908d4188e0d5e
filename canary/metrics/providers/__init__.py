"""The metrics providers a MetricTemplate may name, one module each, behind one protocol.

`PROVIDERS` maps `spec.provider.type` to the module's `connect(settings, connections)`, which
returns a `QueryClient` (one query in, one finite float or a `MetricError` out). The registry
is explicit: a type missing from it is an `UnsupportedProvider` error, never a fallback to
another provider (the API's enum, `canary.api.metrictemplate.PROVIDER_TYPES`, refuses unknown
types at admission; a test keeps both lists equal). `connect_client` never raises: a
configuration fault becomes a client whose every query fails with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers import (
    cloudwatch,
    datadog,
    dynatrace,
    graphite,
    influxdb,
    keptn,
    newrelic,
    prometheus,
    splunk,
    stackdriver,
)
from canary.metrics.providers.settings import (
    Connect,
    Connections,
    FailingClient,
    PrometheusClients,
    ProviderSettings,
)

PROVIDERS: Final[Mapping[str, Connect]] = {
    "prometheus": prometheus.connect,
    "graphite": graphite.connect,
    "influxdb": influxdb.connect,
    "datadog": datadog.connect,
    "newrelic": newrelic.connect,
    "dynatrace": dynatrace.connect,
    "cloudwatch": cloudwatch.connect,
    "stackdriver": stackdriver.connect,
    "splunk": splunk.connect,
    "keptn": keptn.connect,
}


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    """The client for `settings`, or a `MetricError` saying why there can be none."""
    factory = PROVIDERS.get(settings.type)
    if factory is None:
        raise MetricError(
            FailureKind.UNSUPPORTED_PROVIDER,
            f"spec.provider.type {settings.type!r} is not supported by this controller"
            f" (supported: {', '.join(PROVIDERS)})",
        )
    return factory(settings, connections)


def connect_client(settings: ProviderSettings, connections: Connections) -> QueryClient:
    """`connect`, with a configuration fault turned into a client that fails with it."""
    try:
        return connect(settings, connections)
    except MetricError as error:
        return FailingClient(error)


__all__ = [
    "PROVIDERS",
    "Connections",
    "FailingClient",
    "PrometheusClients",
    "ProviderSettings",
    "connect",
    "connect_client",
]
