"""Amazon CloudWatch: `GetMetricData` with the template's MetricDataQueries, signed with SigV4.

Flagger's semantics: `spec.provider.region` is required; the query is a JSON list of
MetricDataQuery objects (the API's own field names: `Id`, `Expression`, `MetricStat`, ...);
it is asked from ten metric intervals ago to now with `MaxDatapoints` 20, and the value is the
first (newest) value of the result. Several results (queries with `ReturnData` true) are
several series; a result without values is no data; a result whose `StatusCode` is
`InternalError` or `Forbidden` is an error.

The request uses CloudWatch's AWS JSON 1.0 protocol (`X-Amz-Target:
GraniteServiceVersion20100801.GetMetricData`) at `https://monitoring.<region>.amazonaws.com`
(or `spec.provider.address`), signed by sigv4.py. Credentials: the Secret's
`aws_access_key_id`, `aws_secret_access_key` and optional `aws_session_token` when there is a
secretRef (this project's; Flagger's CloudWatch ignores secretRef), else the controller's own
(awsidentity.py: environment keys, an EKS service account role, EKS Pod Identity, the EC2
instance profile), as Flagger's AWS SDK. AWS answers
throttling and refused credentials with HTTP 400 and a code: those become `Throttled` and
`AuthRefused`. This module must not judge thresholds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import urlsplit

from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.awsidentity import ambient_credentials
from canary.metrics.providers.fetch import Request, fetch, finite, json_of, only
from canary.metrics.providers.settings import Connections, ProviderSettings
from canary.metrics.providers.sigv4 import AwsCredentials, sign

ACCESS_KEY_ID = "aws_access_key_id"
SECRET_ACCESS_KEY = "aws_secret_access_key"  # noqa: S105 - the name of the Secret's key
SESSION_TOKEN = "aws_session_token"  # noqa: S105 - the name of the Secret's key
MAX_DATAPOINTS = 20
TARGET = "GraniteServiceVersion20100801.GetMetricData"
_THROTTLED: Final = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"}
)
_REFUSED: Final = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnrecognizedClientException",
        "IncompleteSignature",
        "InvalidSignatureException",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "AccessDenied",
        "AccessDeniedException",
    }
)


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    if not settings.region:
        raise MetricError(
            FailureKind.NO_ADDRESS,
            "spec.provider.region is required for provider cloudwatch (e.g. us-east-1)",
        )
    if settings.secret is not None:
        static = AwsCredentials(
            settings.key(ACCESS_KEY_ID),
            settings.key(SECRET_ACCESS_KEY),
            settings.secret.get(SESSION_TOKEN) or None,
        )

        async def credentials() -> AwsCredentials:
            return static

    else:
        region = settings.region

        async def credentials() -> AwsCredentials:
            return await ambient_credentials(region, time_limit=connections.timeout)

    address = settings.address or f"https://monitoring.{settings.region}.amazonaws.com"
    return CloudWatchClient(
        address.rstrip("/"),
        region=settings.region,
        credentials=credentials,
        window=settings.window_seconds(),
        insecure_skip_verify=settings.insecure_skip_verify,
        timeout=connections.timeout,
    )


class CloudWatchClient:
    """GetMetricData calls to one region's CloudWatch with one set of credentials."""

    def __init__(  # noqa: PLR0913 - keyword-only: the endpoint, its keys and its window
        self,
        address: str,
        *,
        region: str,
        credentials: Callable[[], Awaitable[AwsCredentials]],
        window: float,
        insecure_skip_verify: bool,
        timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.address = address
        self._region = region
        self._credentials = credentials
        self._window = int(window)
        self._insecure = insecure_skip_verify
        self._timeout = timeout
        self._clock = clock

    async def query(self, query: str) -> float:
        try:
            queries = json.loads(query)
        except ValueError as error:
            raise MetricError(
                FailureKind.TEMPLATE_ERROR,
                f"a CloudWatch query is a JSON list of MetricDataQuery objects: {error}",
            ) from None
        if not isinstance(queries, list) or not queries:
            raise MetricError(
                FailureKind.TEMPLATE_ERROR,
                "a CloudWatch query is a JSON list of MetricDataQuery objects",
            )
        now = self._clock()
        credentials = await self._credentials()
        payload = json.dumps(
            {
                "MetricDataQueries": queries,
                "StartTime": int(now) - self._window,
                "EndTime": int(now),
                "MaxDatapoints": MAX_DATAPOINTS,
            }
        ).encode()
        parts = urlsplit(self.address)
        headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": TARGET}
        headers |= sign(
            method="POST",
            host=parts.netloc,
            path=parts.path or "/",
            query={},
            headers=headers,
            payload=payload,
            credentials=credentials,
            region=self._region,
            service="monitoring",
            now=datetime.fromtimestamp(now, UTC),
        )
        request = Request(
            "CloudWatch",
            f"{self.address}{'' if parts.path else '/'}",
            self._timeout,
            method="POST",
            headers=headers,
            body=payload,
            insecure_skip_verify=self._insecure,
            classify=classify,
        )
        return value_of(json_of(request, await fetch(request)))


def classify(_status: int, body: bytes) -> FailureKind | None:
    """Throttling and refused credentials, which AWS answers with HTTP 400 and a code."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    code = str(document.get("__type", "")) if isinstance(document, dict) else ""
    code = code.rpartition("#")[2].partition(":")[0]
    if code in _THROTTLED:
        return FailureKind.THROTTLED
    if code in _REFUSED:
        return FailureKind.AUTH_REFUSED
    return None


def value_of(answer: Any) -> float:
    """The one value of a GetMetricData answer (see the module docstring)."""
    first = only(
        answer.get("MetricDataResults") if isinstance(answer, dict) else None,
        listed="no MetricDataResults list",
        none="the queries returned no result",
        several=_several,
    )
    result = first if isinstance(first, dict) else {}
    status = result.get("StatusCode")
    if status in ("InternalError", "Forbidden"):
        messages = "; ".join(str(m.get("Value")) for m in result.get("Messages") or [])
        raise MetricError(FailureKind.QUERY_ERROR, f"query error: {status} {messages}"[:300])
    values = result.get("Values")
    if not isinstance(values, list):
        raise MetricError(FailureKind.BAD_RESPONSE, "bad response: the result has no Values")
    if not values:
        raise MetricError(FailureKind.NO_DATA, "no data: the result has no value in the window")
    return finite(values[0], what=f"the newest value of {result.get('Id')}")


def _several(results: list[Any]) -> str:
    ids = ", ".join(str(r.get("Id")) for r in results[:3] if isinstance(r, dict))
    return f"{len(results)} results ({ids}); set ReturnData false on all queries but one"
