"""The AlertProvider resource: where a Canary's alerts go (a chat webhook, or any JSON receiver).

A Canary's `analysis.alerts[].providerRef` names one. The address is given either in the open
(`address`) or, since a chat webhook URL is a credential, through a Secret (`secretRef`: key
`address`, and optionally `token`, sent as `Authorization: Bearer`); exactly one of the two. The
channel and username have defaults, but they live in the notifier (`canary.notify`), not here:
the stored object keeps exactly what its author wrote.

Like every model of `canary.api`, this module does no I/O; reading the Secret is the
controller's job.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from canary.api.base import (
    API_VERSION,
    ApiModel,
    CelRule,
    ObjectMeta,
    ObjectName,
    ShortText,
    Url,
    cel_rules,
)
from canary.api.status import ConditionsStatus
from canary.api.urls import is_http_url

AlertProviderType = Literal["slack", "msteams", "discord", "gchat", "webhook"]

_HTTP_URL = (
    "isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''"
)
ALERT_ADDRESS_RULE = CelRule(
    rule=_HTTP_URL, message="alert provider address must be an absolute http(s) URL"
)
ALERT_PROXY_RULE = CelRule(
    rule=_HTTP_URL, message="alert provider proxy must be an absolute http(s) URL"
)
ADDRESS_XOR_SECRET_RULE = CelRule(
    rule="has(self.address) != has(self.secretRef)",
    message="exactly one of address or secretRef must be set",
)


class AlertSecretRef(ApiModel):
    """A Secret in the provider's namespace with key `address` (the webhook URL) and optionally
    `token` (sent as `Authorization: Bearer <token>`)."""

    name: ObjectName


class AlertProviderSpec(ApiModel):
    """The kind of receiver and how to reach it."""

    type: AlertProviderType
    """The receiver: slack, msteams, discord, gchat (Google Chat), or webhook (generic JSON)."""
    address: Url | None = Field(default=None, json_schema_extra=cel_rules(ALERT_ADDRESS_RULE))
    """The webhook URL; exactly one of address and secretRef is set."""
    secret_ref: AlertSecretRef | None = None
    """A Secret holding the webhook URL (key `address`) and optionally a bearer `token`."""
    channel: ShortText | None = None
    """The channel to post to (Slack); `general` when left out."""
    username: ShortText | None = None
    """The name alerts are posted under (Slack, Discord); `canary` when left out."""
    proxy: Url | None = Field(default=None, json_schema_extra=cel_rules(ALERT_PROXY_RULE))
    """An HTTP(S) proxy to send through."""

    model_config = ConfigDict(json_schema_extra=cel_rules(ADDRESS_XOR_SECRET_RULE))

    @field_validator("address")
    @classmethod
    def _address_is_http_url(cls, url: str | None) -> str | None:
        if url is not None and not is_http_url(url):
            raise ValueError(ALERT_ADDRESS_RULE.message)
        return url

    @field_validator("proxy")
    @classmethod
    def _proxy_is_http_url(cls, url: str | None) -> str | None:
        if url is not None and not is_http_url(url):
            raise ValueError(ALERT_PROXY_RULE.message)
        return url

    @model_validator(mode="after")
    def _address_xor_secret(self) -> AlertProviderSpec:
        if (self.address is None) == (self.secret_ref is None):
            raise ValueError(ADDRESS_XOR_SECRET_RULE.message)
        return self


class AlertProvider(ApiModel):
    """A receiver of Canary alerts: `kubectl get alertproviders`."""

    api_version: Literal["canary.dev/v1alpha1"] = API_VERSION
    kind: Literal["AlertProvider"] = "AlertProvider"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AlertProviderSpec
    status: ConditionsStatus = Field(default_factory=ConditionsStatus)
