"""What a metrics provider is given: a MetricTemplate's `spec.provider`, its Secret's values, and
the connections the controller keeps; and what a provider module must offer (`Connect`).

A provider module exposes `connect(settings, connections) -> QueryClient`. `connect` checks the
settings it needs (address, Secret keys, region) and raises a `MetricError` of a configuration
kind naming the field or key when one is missing; the client's `query` returns one finite float
or raises a `MetricError` saying why not. This module does no I/O and holds no provider's logic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from canary.api.durations import parse_duration
from canary.kube.client import ApiClient
from canary.kube.resources import Reader
from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.inputs import DEFAULT_INTERVAL
from canary.metrics.prometheus import Credentials

# The window the hosted services are asked about, in metric intervals (Flagger's).
WINDOW_INTERVALS = 10


class PrometheusClients(Protocol):
    """The controller's pool of Prometheus clients (`PrometheusPool`)."""

    def client(
        self,
        url: str,
        *,
        credentials: Credentials | None = None,
        insecure_skip_verify: bool = False,
    ) -> QueryClient: ...


@dataclass(frozen=True)
class Connections:
    """What the controller lends every provider: its Prometheus clients, the Prometheus to ask
    when a template names none, the time one query may take (seconds), and its reader of and
    client to the Kubernetes API (for Keptn, whose metrics and analyses are custom resources)."""

    prometheus: PrometheusClients
    default_prometheus: str
    timeout: float
    read: Reader | None = None
    api: ApiClient | None = None


@dataclass(frozen=True)
class ProviderSettings:
    """One MetricTemplate's `spec.provider`, resolved for one check.

    `secret` holds the decoded values of the Secret `spec.provider.secretRef` names (None when
    the template has no secretRef); `holder` is how messages name the Secret. `interval` is the
    metric's interval: the hosted services are asked for the data of a window derived from it,
    as Flagger does.
    """

    type: str
    address: str | None = None
    region: str | None = None
    insecure_skip_verify: bool = False
    secret: Mapping[str, str] | None = field(default=None, repr=False)
    holder: str = "spec.provider.secretRef"
    interval: str = DEFAULT_INTERVAL
    namespace: str = ""

    def require_address(self) -> str:
        """`address` without a trailing slash, or a `MetricError` saying the type needs one."""
        if not self.address:
            raise MetricError(
                FailureKind.NO_ADDRESS,
                f"spec.provider.address is required for provider {self.type}: set the URL of"
                " its API",
            )
        return self.address.rstrip("/")

    def key(self, name: str) -> str:
        """The Secret's value for `name`, or a `MetricError` naming the Secret and the key."""
        if self.secret is None:
            raise MetricError(
                FailureKind.MISSING_CREDENTIALS,
                f"provider {self.type} needs spec.provider.secretRef: a Secret with the key"
                f" {name!r}",
            )
        value = self.secret.get(name)
        if not value:
            raise MetricError(
                FailureKind.MISSING_CREDENTIALS,
                f"{self.holder} has no key {name!r}, which provider {self.type} needs",
            )
        return value

    def window_seconds(self) -> float:
        """The window a hosted service (Datadog, Dynatrace, Splunk, CloudWatch) is asked about,
        in seconds: `WINDOW_INTERVALS` metric intervals, as Flagger asks."""
        return WINDOW_INTERVALS * self.interval_seconds()

    def interval_seconds(self) -> float:
        """The metric's interval in seconds (a `MetricError` when it is not a duration)."""
        try:
            return parse_duration(self.interval)
        except ValueError as error:
            raise MetricError(FailureKind.TEMPLATE_ERROR, f"interval: {error}") from None


Connect = Callable[[ProviderSettings, Connections], QueryClient]


class FailingClient:
    """A client that cannot query: every query raises the error that kept it from connecting,
    so a misconfigured template fails its check through the usual path, with its reason."""

    def __init__(self, error: MetricError) -> None:
        self.error = error

    async def query(self, query: str) -> float:  # noqa: ARG002 - the protocol's signature
        raise self.error
