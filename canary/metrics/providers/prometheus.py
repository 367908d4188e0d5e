"""Prometheus behind the provider protocol: a client from the controller's pool, with the
credentials Flagger reads from the Secret: `token` (a bearer token), or else `username` and
`password` (basic auth); `insecureSkipVerify` skips TLS verification.

The address defaults to the Canary's `metricsServer`, else the controller's Prometheus. The
client itself (bounded reads, strict parsing) is canary.metrics.prometheus. This module must
not do I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.prometheus import Credentials
from canary.metrics.providers.settings import Connections, ProviderSettings


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    credentials = None
    if settings.secret is not None:
        credentials = credentials_from(settings.secret, where=settings.holder)
    return connections.prometheus.client(
        settings.address or connections.default_prometheus,
        credentials=credentials,
        insecure_skip_verify=settings.insecure_skip_verify,
    )


def credentials_from(values: Mapping[str, str], *, where: str) -> Credentials:
    """The Secret's bearer `token`, or else its `username` and `password`; a `MetricError`
    naming the Secret (`where`) and the missing key otherwise."""
    if values.get("token"):
        return Credentials(bearer_token=values["token"])
    for key in ("username", "password"):
        if key not in values:
            raise MetricError(
                FailureKind.MISSING_CREDENTIALS,
                f"{where} has no key {key!r}: it must hold token, or username and password",
            )
    return Credentials(username=values["username"], password=values["password"])
