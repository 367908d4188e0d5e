"""AWS Signature Version 4 for one HTTP request (the `Authorization` header AWS APIs require).

The algorithm as AWS documents it ("Create a signed AWS API request"): a canonical request
(method, path, sorted query, sorted lower-case headers, the signed header names, the payload's
SHA-256), a string to sign with the date and the credential scope, a signing key derived by
HMAC-SHA256 from the secret key, the date, the region and the service, and the header
`AWS4-HMAC-SHA256 Credential=<key id>/<scope>, SignedHeaders=..., Signature=...`. Pure: no I/O,
no clock (the caller passes the time), and the secret never leaves this module's arguments.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class AwsCredentials:
    """An access key, and the session token of temporary credentials."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def sign(  # noqa: PLR0913 - keyword-only: everything the signature covers
    *,
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload: bytes,
    credentials: AwsCredentials,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """The headers to add to the request: `X-Amz-Date`, `Authorization` and, for temporary
    credentials, `X-Amz-Security-Token`. `now` must be in UTC."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    added = {"X-Amz-Date": amz_date}
    if credentials.session_token:
        added["X-Amz-Security-Token"] = credentials.session_token
    signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    signed.update({name.lower(): value for name, value in added.items()})
    signed["host"] = host
    names = sorted(signed)
    canonical = "\n".join(
        [
            method.upper(),
            quote(path or "/", safe="/-_.~"),
            "&".join(
                f"{quote(key, safe='-_.~')}={quote(value, safe='-_.~')}"
                for key, value in sorted(query.items())
            ),
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        [ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{credentials.secret_access_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    added["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope},"
        f" SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    return added
