"""New Relic: an NRQL query through the Insights query API.

Flagger's semantics: the Secret's `newrelic_account_id` and `newrelic_query_key` are required;
the query key is sent as the `X-Query-Key` header to
`<address>/v1/accounts/<account id>/query`, the address defaulting to
https://insights-api.newrelic.com; ` SINCE <interval in seconds> seconds ago` is appended to
the NRQL. The answer must hold exactly one result whose `result` is the value (a computed
expression's key); a result with a single other key (e.g. `average`) is read too. A null
result is no data; several results are several series. This module must not judge thresholds.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import (
    Request,
    fetch,
    finite,
    json_object,
    json_of,
    only,
    query_error,
)
from canary.metrics.providers.settings import Connections, ProviderSettings

DEFAULT_ADDRESS = "https://insights-api.newrelic.com"
ACCOUNT_ID = "newrelic_account_id"
QUERY_KEY = "newrelic_query_key"


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    account = quote(settings.key(ACCOUNT_ID).strip(), safe="")
    return NewRelicClient(
        f"{(settings.address or DEFAULT_ADDRESS).rstrip('/')}/v1/accounts/{account}/query",
        query_key=settings.key(QUERY_KEY),
        since_seconds=int(settings.interval_seconds()),
        insecure_skip_verify=settings.insecure_skip_verify,
        timeout=connections.timeout,
    )


class NewRelicClient:
    """NRQL queries against one New Relic account."""

    def __init__(
        self,
        url: str,
        *,
        query_key: str,
        since_seconds: int,
        insecure_skip_verify: bool,
        timeout: float,
    ) -> None:
        self.url = url
        self._headers = {"X-Query-Key": query_key, "Accept": "application/json"}
        self._since = since_seconds
        self._insecure = insecure_skip_verify
        self._timeout = timeout

    async def query(self, query: str) -> float:
        request = Request(
            "New Relic",
            self.url,
            self._timeout,
            params={"nrql": f"{query} SINCE {self._since} seconds ago"},
            headers=self._headers,
            insecure_skip_verify=self._insecure,
        )
        return value_of(json_of(request, await fetch(request)))


def value_of(answer: Any) -> float:
    """The one value of an Insights query answer (see the module docstring)."""
    answer = json_object(answer)
    if answer.get("error"):
        raise query_error(answer["error"])
    result = only(
        answer.get("results"),
        listed="no results list",
        none="the query returned no result",
        several=lambda results: f"the query returned {len(results)} results; it must return one",
    )
    if not isinstance(result, dict):
        raise MetricError(FailureKind.BAD_RESPONSE, f"bad response: result {result!r:.80}")
    if "result" in result:
        value = result["result"]
    elif len(result) == 1:
        (value,) = result.values()
    else:
        raise MetricError(
            FailureKind.BAD_RESPONSE,
            f"bad response: the result has the keys {sorted(result)[:5]}; select one value",
        )
    if value is None:
        raise MetricError(FailureKind.NO_DATA, "no data: the query's result is null")
    return finite(value, what="the query's result")
