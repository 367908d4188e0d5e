"""The MetricTemplate resource: a reusable query, and the metrics provider that answers it.

A Canary's metric refers to a template by name (`templateRef`) and fills its variables. The
provider types are those of Flagger's this controller implements (`PROVIDER_TYPES`, Flagger's
names); any other type is refused at admission, never answered by a fallback. Credentials are
referenced (`secretRef`), never stored in the template; which keys the Secret must hold depends
on the type (docs/metrics.md).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, get_args

from pydantic import Field, StringConstraints, field_validator

from canary.api.base import (
    API_VERSION,
    ApiModel,
    Bool,
    CelRule,
    ObjectMeta,
    ObjectName,
    Url,
    cel_rules,
)
from canary.api.status import ConditionsStatus
from canary.api.urls import is_http_url

ADDRESS_RULE = CelRule(
    rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && "
    "url(self).getHostname() != ''",
    message="provider address must be an absolute http(s) URL",
)


ProviderType = Literal[
    "prometheus",
    "graphite",
    "influxdb",
    "datadog",
    "newrelic",
    "dynatrace",
    "cloudwatch",
    "stackdriver",
    "splunk",
    "keptn",
]
# The metrics servers a MetricTemplate may name: the keys of canary.metrics.providers.PROVIDERS.
PROVIDER_TYPES: Final[tuple[str, ...]] = get_args(ProviderType)
Region = Annotated[str, StringConstraints(max_length=64)]


class SecretRef(ApiModel):
    """A Secret in the template's namespace holding the provider's credentials (docs/metrics.md
    lists the keys each type reads, which are Flagger's)."""

    name: ObjectName


class MetricProvider(ApiModel):
    """Where the query runs."""

    type: ProviderType
    """The kind of metrics server."""
    address: Url | None = Field(default=None, json_schema_extra=cel_rules(ADDRESS_RULE))
    """Its URL; if left out, the controller's Prometheus or the service's API (docs/metrics.md)."""
    region: Region | None = None
    """The cloud region (CloudWatch: e.g. `us-east-1`)."""
    secret_ref: SecretRef | None = None
    """Credentials for it."""
    insecure_skip_verify: Bool = False
    """Skip TLS certificate verification (for test setups only)."""

    @field_validator("address")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url is not None and not is_http_url(url):
            raise ValueError(ADDRESS_RULE.message)
        return url


class MetricTemplateSpec(ApiModel):
    """What the template asks, and of which metrics server."""

    provider: MetricProvider
    query: Annotated[str, StringConstraints(min_length=1, max_length=8192)]
    """The query, with Flagger's template variables: `{{ name }}`, `{{ namespace }}`,
    `{{ target }}`, `{{ service }}`, `{{ interval }}`, `{{ variables.<key> }}`."""


class MetricTemplate(ApiModel):
    """A reusable metric query and its provider."""

    api_version: Literal["canary.dev/v1alpha1"] = API_VERSION
    kind: Literal["MetricTemplate"] = "MetricTemplate"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: MetricTemplateSpec
    status: ConditionsStatus = Field(default_factory=ConditionsStatus)
