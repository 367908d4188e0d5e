"""InfluxDB 2.x: a Flux query, answered in annotated CSV.

Flagger's semantics: the query is Flux, POSTed to `/api/v2/query` with the Secret's `token`
(sent as `Authorization: Token ...`) and `org`; both keys are required when there is a
secretRef, and neither is sent without one. The value is the `_value` of the answer's record.

The answer is parsed strictly, by this module rather than by influxdb-client (which reads the
whole body before parsing; every read here stops at 1 MiB): a table whose header holds an
`error` column is a query error; no record, or a record with an empty `_value`, is no data
(Flagger answers 0 for an empty result); several records are several series (Flagger takes
the first); a `_value` that is not a number (by its `#datatype` annotation) is a bad response.
This module must not judge thresholds.
"""

from __future__ import annotations

import csv
import io
import json

from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import Request, fetch, finite, query_error
from canary.metrics.providers.settings import Connections, ProviderSettings

_NUMBER_TYPES = frozenset({"double", "long", "unsignedLong"})
_DIALECT = {"annotations": ["datatype", "group", "default"], "header": True, "delimiter": ","}


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    token = org = None
    if settings.secret is not None:
        token, org = settings.key("token"), settings.key("org")
    return InfluxClient(
        settings.require_address(),
        token=token,
        org=org,
        insecure_skip_verify=settings.insecure_skip_verify,
        timeout=connections.timeout,
    )


class InfluxClient:
    """Flux queries against one InfluxDB 2.x (or 1.8+ with Flux enabled)."""

    def __init__(
        self,
        address: str,
        *,
        token: str | None,
        org: str | None,
        insecure_skip_verify: bool,
        timeout: float,
    ) -> None:
        self.address = address.rstrip("/")
        self._token = token
        self._org = org
        self._insecure = insecure_skip_verify
        self._timeout = timeout

    async def query(self, query: str) -> float:
        headers = {"Content-Type": "application/json", "Accept": "application/csv"}
        if self._token is not None:
            headers["Authorization"] = f"Token {self._token}"
        request = Request(
            "InfluxDB",
            f"{self.address}/api/v2/query",
            self._timeout,
            method="POST",
            params={"org": self._org} if self._org else {},
            headers=headers,
            body=json.dumps({"query": query, "type": "flux", "dialect": _DIALECT}).encode(),
            insecure_skip_verify=self._insecure,
        )
        return value_of(await fetch(request))


def value_of(body: bytes) -> float:
    """The one `_value` of an annotated CSV answer (see the module docstring)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MetricError(FailureKind.BAD_RESPONSE, "bad response: the CSV is not UTF-8") from None
    values: list[tuple[str, str]] = []
    datatypes: list[str] = []
    header: list[str] | None = None
    for row in csv.reader(io.StringIO(text)):
        if not row or all(not cell for cell in row):
            header = None  # a blank line ends a table; the next one has its own annotations
            continue
        if row[0].startswith("#"):
            if row[0] == "#datatype":
                datatypes = row
                header = None
            continue
        if header is None:
            header = row
            continue
        if "error" in header:
            raise query_error(row[header.index("error")])
        if "_value" not in header:
            raise MetricError(
                FailureKind.BAD_RESPONSE,
                "bad response: the result has no _value column (end the query with a"
                " single-value table, e.g. |> mean())",
            )
        column = header.index("_value")
        datatype = datatypes[column] if column < len(datatypes) else ""
        values.append((datatype, row[column] if column < len(row) else ""))
    if not values:
        raise MetricError(FailureKind.NO_DATA, "no data: the query returned no record")
    if len(values) > 1:
        raise MetricError(
            FailureKind.SEVERAL_SERIES,
            f"several series: the query returned {len(values)} records; it must return one"
            " (aggregate, e.g. |> group() |> mean())",
        )
    datatype, value = values[0]
    if value == "":
        raise MetricError(FailureKind.NO_DATA, "no data: the record's _value is empty")
    if datatype and datatype not in _NUMBER_TYPES:
        raise MetricError(
            FailureKind.BAD_RESPONSE, f"bad response: _value is of type {datatype}, not a number"
        )
    return finite(value, what="_value")
