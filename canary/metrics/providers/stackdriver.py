"""Google Cloud Monitoring (Flagger's `stackdriver`): an MQL query through `timeSeries:query`.

Flagger's semantics: with a secretRef, the Secret's `project` is required and its
`serviceAccountKey` (a service account's JSON key) is used when present; the query is MQL,
POSTed to `<address>/v3/projects/<project>/timeSeries:query` (address defaulting to
https://monitoring.googleapis.com); the value is the first value of the first point of the
answer's time series. Unlike Flagger, several time series are several series, and an
`int64Value` is read as a number (Flagger reads it as 0).

Access tokens: from the service account key, a JWT signed with its RSA key (RS256, scope
monitoring.read) is exchanged at the key's `token_uri` (OAuth 2.0 JWT bearer grant); without
a key, the GKE/GCE metadata server's token of the pod's service account (Workload Identity),
at `GCE_METADATA_HOST` if set. Tokens are kept until a minute before they expire. This module
must not judge thresholds.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections import OrderedDict
from typing import Any, Final

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from canary.metrics.checks import QueryClient
from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import Request, fetch, finite, json_object, json_of
from canary.metrics.providers.settings import Connections, ProviderSettings

DEFAULT_ADDRESS = "https://monitoring.googleapis.com"
PROJECT = "project"
SERVICE_ACCOUNT_KEY = "serviceAccountKey"
SCOPE = "https://www.googleapis.com/auth/monitoring.read"
_METADATA_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"
_TOKENS_KEPT: Final = 64
# (client_email, private_key_id, token_uri) or ("metadata", host) -> (token, expiry)
_tokens: OrderedDict[tuple[str, ...], tuple[str, float]] = OrderedDict()


def connect(settings: ProviderSettings, connections: Connections) -> QueryClient:
    if settings.secret is None:
        raise MetricError(
            FailureKind.MISSING_CREDENTIALS,
            "provider stackdriver needs spec.provider.secretRef: a Secret with the key"
            f" {PROJECT!r} (and {SERVICE_ACCOUNT_KEY!r}, or Workload Identity)",
        )
    project = settings.key(PROJECT)
    key = None
    if raw := settings.secret.get(SERVICE_ACCOUNT_KEY):
        key = ServiceAccountKey.parse(raw, holder=settings.holder)
    return StackdriverClient(
        (settings.address or DEFAULT_ADDRESS).rstrip("/"),
        project=project,
        key=key,
        insecure_skip_verify=settings.insecure_skip_verify,
        timeout=connections.timeout,
    )


class ServiceAccountKey:
    """The parts of a service account's JSON key that sign a token request."""

    def __init__(self, *, email: str, key_id: str, token_uri: str, private_key: rsa.RSAPrivateKey):
        self.email = email
        self.key_id = key_id
        self.token_uri = token_uri
        self._private_key = private_key

    @classmethod
    def parse(cls, raw: str, *, holder: str) -> ServiceAccountKey:
        """The key in `raw`, or a `MetricError` naming the Secret's key and what is wrong."""
        where = f"{holder} key {SERVICE_ACCOUNT_KEY!r}"
        try:
            document = json.loads(raw)
            private_key = serialization.load_pem_private_key(
                str(document["private_key"]).encode(), password=None
            )
            email, token_uri = str(document["client_email"]), str(document["token_uri"])
        except (ValueError, KeyError, TypeError) as error:
            reason = f"no {error}" if isinstance(error, KeyError) else type(error).__name__
            raise MetricError(
                FailureKind.MISSING_CREDENTIALS,
                f"{where} is not a service account JSON key ({reason})",
            ) from None
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise MetricError(FailureKind.MISSING_CREDENTIALS, f"{where}: not an RSA key")
        return cls(
            email=email,
            key_id=str(document.get("private_key_id", "")),
            token_uri=token_uri,
            private_key=private_key,
        )

    def assertion(self, now: int) -> str:
        """A signed JWT asking `token_uri` for a monitoring.read token."""
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key_id}
        claims = {
            "iss": self.email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        }
        signing_input = f"{_b64(json.dumps(header))}.{_b64(json.dumps(claims))}"
        signature = self._private_key.sign(
            signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
        return f"{signing_input}.{_b64(signature)}"


class StackdriverClient:
    """MQL queries against one Google Cloud project."""

    def __init__(
        self,
        address: str,
        *,
        project: str,
        key: ServiceAccountKey | None,
        insecure_skip_verify: bool,
        timeout: float,
    ) -> None:
        self.address = address
        self._project = project
        self._key = key
        self._insecure = insecure_skip_verify
        self._timeout = timeout

    async def query(self, query: str) -> float:
        token = await self._token()
        request = Request(
            "Cloud Monitoring",
            f"{self.address}/v3/projects/{self._project}/timeSeries:query",
            self._timeout,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=json.dumps({"query": query}).encode(),
            insecure_skip_verify=self._insecure,
        )
        return value_of(json_of(request, await fetch(request)))

    async def _token(self) -> str:
        now = time.time()
        if self._key is not None:
            cache_key: tuple[str, ...] = (self._key.email, self._key.key_id, self._key.token_uri)
        else:
            host = os.environ.get("GCE_METADATA_HOST", "metadata.google.internal")
            cache_key = ("metadata", host)
        if (kept := _tokens.get(cache_key)) is not None and kept[1] > now + 60:
            return kept[0]
        if self._key is not None:
            grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
            assertion = self._key.assertion(int(now))
            request = Request(
                "Google OAuth",
                self._key.token_uri,
                self._timeout,
                method="POST",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                body=f"grant_type={grant}&assertion={assertion}".encode(),
                classify=_token_refused,
            )
        else:
            request = Request(
                "GCE metadata server",
                f"http://{cache_key[1]}{_METADATA_PATH}",
                self._timeout,
                headers={"Metadata-Flavor": "Google"},
            )
        answer = json_of(request, await fetch(request))
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise MetricError(FailureKind.AUTH_REFUSED, f"{request.where} gave no access_token")
        expires_in = answer.get("expires_in", 3600)
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 3600.0
        _tokens[cache_key] = (token, now + lifetime)
        while len(_tokens) > _TOKENS_KEPT:
            _tokens.popitem(last=False)
        return token


def value_of(answer: Any) -> float:
    """The one value of a `timeSeries:query` answer (see the module docstring)."""
    answer = json_object(answer)
    series = answer.get("timeSeriesData", [])
    if not isinstance(series, list):
        raise MetricError(FailureKind.BAD_RESPONSE, "bad response: timeSeriesData is not a list")
    if not series:
        raise MetricError(FailureKind.NO_DATA, "no data: the query returned no time series")
    if len(series) > 1 or answer.get("nextPageToken"):
        raise MetricError(
            FailureKind.SEVERAL_SERIES,
            f"several series: the query returned {len(series)} or more time series; it must"
            " return one",
        )
    points = series[0].get("pointData") if isinstance(series[0], dict) else None
    if not isinstance(points, list):
        raise MetricError(FailureKind.BAD_RESPONSE, "bad response: the series has no pointData")
    if not points:
        raise MetricError(FailureKind.NO_DATA, "no data: the time series has no point")
    values = points[0].get("values") if isinstance(points[0], dict) else None
    if not isinstance(values, list) or not values or not isinstance(values[0], dict):
        raise MetricError(FailureKind.NO_DATA, "no data: the point has no value")
    value = values[0]
    for field in ("doubleValue", "int64Value"):
        if field in value:
            return finite(value[field], what=f"the point's {field}")
    raise MetricError(
        FailureKind.BAD_RESPONSE, f"bad response: the value {sorted(value)} is not a number"
    )


def _token_refused(status: int, _body: bytes) -> FailureKind | None:
    """The token endpoint answers a refused key with 400 (invalid_grant) or 401."""
    return FailureKind.AUTH_REFUSED if status in {400, 401, 403} else None


def _b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
