"""The provider registry: every type the API admits has a provider, and nothing else does."""

from __future__ import annotations

import pytest

from canary.api.metrictemplate import PROVIDER_TYPES, MetricTemplate
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers import PROVIDERS, Connections, ProviderSettings, connect_client
from canary.metrics.providers.settings import FailingClient


class _NoPrometheus:
    def client(self, url: str, **_options: object) -> FailingClient:
        raise AssertionError(f"asked for Prometheus at {url}")


CONNECTIONS = Connections(prometheus=_NoPrometheus(), default_prometheus="http://x", timeout=1)


def test_the_api_admits_exactly_the_registered_types() -> None:
    assert tuple(PROVIDERS) == PROVIDER_TYPES


def test_an_unknown_type_is_refused_by_the_model() -> None:
    with pytest.raises(ValueError, match="opentsdb"):
        MetricTemplate.model_validate({"spec": {"provider": {"type": "opentsdb"}, "query": "q"}})


async def test_an_unregistered_type_fails_every_query_saying_so() -> None:
    client = connect_client(ProviderSettings(type="opentsdb"), CONNECTIONS)
    with pytest.raises(MetricError) as caught:
        await client.query("anything")
    assert caught.value.kind is FailureKind.UNSUPPORTED_PROVIDER
    assert "'opentsdb' is not supported" in caught.value.message


@pytest.mark.parametrize(
    ("settings", "kind", "text"),
    [
        (ProviderSettings(type="graphite"), FailureKind.NO_ADDRESS, "spec.provider.address"),
        (ProviderSettings(type="dynatrace"), FailureKind.NO_ADDRESS, "spec.provider.address"),
        (
            ProviderSettings(type="datadog"),
            FailureKind.MISSING_CREDENTIALS,
            "needs spec.provider.secretRef: a Secret with the key 'datadog_api_key'",
        ),
        (
            ProviderSettings(
                type="newrelic",
                secret={"newrelic_account_id": "1"},
                holder="Secret shop/nr (spec.provider.secretRef)",
            ),
            FailureKind.MISSING_CREDENTIALS,
            "Secret shop/nr (spec.provider.secretRef) has no key 'newrelic_query_key'",
        ),
        (
            ProviderSettings(type="influxdb", address="http://127.0.0.1:1", secret={"token": "t"}),
            FailureKind.MISSING_CREDENTIALS,
            "has no key 'org'",
        ),
    ],
)
async def test_what_a_provider_lacks_is_named(
    settings: ProviderSettings, kind: FailureKind, text: str
) -> None:
    client = connect_client(settings, CONNECTIONS)
    with pytest.raises(MetricError) as caught:
        await client.query("q")
    assert caught.value.kind is kind
    assert text in caught.value.message
    assert caught.value.kind.is_configuration
