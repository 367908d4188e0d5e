"""The MetricTemplate resource: a reusable query, and the metrics provider that answers it.

A Canary's metric refers to a template by name (`templateRef`) and fills its variables. The
provider types are those of Flagger's this controller implements (`PROVIDER_TYPES`, Flagger's
names); any other type is refused at admission, never answered by a fallback. Credentials are
referenced (`secretRef`), never stored in the template; which keys the Secret must hold depends
on the type (docs/metrics.md).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, get_args

from pydantic import ConfigDict, Field, StringConstraints, field_validator, model_validator

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


# What a type cannot run without (Flagger accepts such templates and fails at every check; they
# are refused here, naming the field).
NEEDS_ADDRESS: Final = ("graphite", "influxdb", "dynatrace", "splunk")
NEEDS_SECRET: Final = ("datadog", "newrelic", "dynatrace", "splunk", "stackdriver")
ADDRESS_NEEDED_RULE = CelRule(
    rule=f"!(self.type in {list(NEEDS_ADDRESS)}) || has(self.address)",
    message="address is required for provider types graphite, influxdb, dynatrace and splunk",
)
SECRET_NEEDED_RULE = CelRule(
    rule=f"!(self.type in {list(NEEDS_SECRET)}) || has(self.secretRef)",
    message="secretRef is required for provider types datadog, newrelic, dynatrace, splunk and"
    " stackdriver (their Secret holds the API key or project)",
)
REGION_NEEDED_RULE = CelRule(
    rule="self.type != 'cloudwatch' || (has(self.region) && self.region != '')",
    message="region is required for provider type cloudwatch",
)


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

    model_config = ConfigDict(
        json_schema_extra=cel_rules(ADDRESS_NEEDED_RULE, SECRET_NEEDED_RULE, REGION_NEEDED_RULE)
    )

    @model_validator(mode="after")
    def _what_the_type_needs(self) -> MetricProvider:
        if self.type in NEEDS_ADDRESS and self.address is None:
            raise ValueError(ADDRESS_NEEDED_RULE.message)
        if self.type in NEEDS_SECRET and self.secret_ref is None:
            raise ValueError(SECRET_NEEDED_RULE.message)
        if self.type == "cloudwatch" and not self.region:
            raise ValueError(REGION_NEEDED_RULE.message)
        return self

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
