"""Why a metric check got no finite number: one error type with a closed set of kinds.

Fail closed (DESIGN.md §3 point 3) needs precise reasons: every way a query can go wrong, from a bad
template to an unreachable Prometheus, becomes a `MetricError` whose `kind` a program can branch
on (event reason, terminal vs transient) and whose message a person can act on. Messages are
bounded in length and never carry credentials. This module must not do I/O.
"""

from __future__ import annotations

from enum import StrEnum

# Messages end up in Kubernetes events and alerts: keep them short (reliability.md T-PROM-6).
MESSAGE_LIMIT = 1000


class FailureKind(StrEnum):
    """What went wrong, as a stable CamelCase word (usable as an event reason)."""

    # The query ran, but its answer is not one finite number.
    NO_DATA = "NoData"
    NAN = "NaN"
    INFINITE = "Infinite"
    SEVERAL_SERIES = "SeveralSeries"
    UNSUPPORTED_RESULT = "UnsupportedResultType"
    # The metrics server refused the query, or could not be asked.
    QUERY_ERROR = "QueryError"
    HTTP_ERROR = "HttpError"
    AUTH_REFUSED = "AuthRefused"
    THROTTLED = "Throttled"
    UNREACHABLE = "Unreachable"
    TLS_ERROR = "TLSError"
    TIMEOUT = "Timeout"
    BAD_RESPONSE = "BadResponse"
    RESPONSE_TOO_LARGE = "ResponseTooLarge"
    # The metric's configuration cannot work: retrying will not help until the spec changes.
    TEMPLATE_ERROR = "TemplateError"
    QUERY_TOO_LONG = "QueryTooLong"
    NO_QUERY = "NoQuery"
    UNSUPPORTED_PROVIDER = "UnsupportedProvider"
    MISSING_CREDENTIALS = "MissingCredentials"
    NO_ADDRESS = "NoAddress"
    # A bug of ours, caught so that one metric cannot crash the controller.
    INTERNAL = "InternalError"

    @property
    def is_configuration(self) -> bool:
        """True when only a change of the Canary or MetricTemplate can fix it (terminal)."""
        return self in _CONFIGURATION_KINDS


_CONFIGURATION_KINDS = frozenset(
    {
        FailureKind.TEMPLATE_ERROR,
        FailureKind.QUERY_TOO_LONG,
        FailureKind.NO_QUERY,
        FailureKind.UNSUPPORTED_PROVIDER,
        FailureKind.MISSING_CREDENTIALS,
        FailureKind.NO_ADDRESS,
    }
)


def bounded(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to at most `limit` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


class MetricError(Exception):
    """A metric check got no usable value; `kind` says which way, the message says the details."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        self.kind = kind
        self.message = bounded(message)
        super().__init__(self.message)


class TemplateError(MetricError):
    """A query template cannot be rendered safely (unknown token, missing or unsafe variable)."""

    def __init__(self, message: str) -> None:
        super().__init__(FailureKind.TEMPLATE_ERROR, f"template: {message}")
