"""The controller's own AWS credentials, for a CloudWatch template without a secretRef.

Where the AWS SDKs look, in their order, for the sources a pod has:

1. `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`);
2. a web identity, as EKS's IAM roles for service accounts set it up: `AWS_ROLE_ARN` and
   `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged with STS `AssumeRoleWithWebIdentity` at
   `AWS_ENDPOINT_URL_STS`, else `https://sts.<region>.amazonaws.com`;
3. a container credentials endpoint, as EKS Pod Identity (and ECS) set it up:
   `AWS_CONTAINER_CREDENTIALS_FULL_URI` with the token of
   `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (or `AWS_CONTAINER_AUTHORIZATION_TOKEN`);
4. the EC2 instance profile, from the instance metadata service (IMDSv2: a session token,
   then the role's credentials) at `AWS_EC2_METADATA_SERVICE_ENDPOINT`, else
   http://169.254.169.254, unless `AWS_EC2_METADATA_DISABLED` is true.

Temporary credentials are kept until five minutes before they expire. Every answer is read
bounded (fetch.py); errors never show a token.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Final
from urllib.parse import urlencode
from xml.etree import ElementTree

from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import Request, fetch, json_of
from canary.metrics.providers.sigv4 import AwsCredentials

IMDS: Final = "http://169.254.169.254"
_CREDENTIALS_PATH: Final = "/latest/meta-data/iam/security-credentials/"
_MARGIN: Final = 300.0
_STS_NS: Final = "{https://sts.amazonaws.com/doc/2011-06-15/}"
_kept: dict[tuple[str, ...], tuple[AwsCredentials, float]] = {}


Fetcher = Callable[[float], Awaitable[tuple[AwsCredentials, float]]]


async def ambient_credentials(
    region: str, *, time_limit: float, environ: Mapping[str, str] = os.environ
) -> AwsCredentials:
    """The controller's credentials from its environment (see the module docstring)."""
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        return AwsCredentials(
            environ["AWS_ACCESS_KEY_ID"],
            environ["AWS_SECRET_ACCESS_KEY"],
            environ.get("AWS_SESSION_TOKEN") or None,
        )
    key, fetcher = _source(region, environ)
    if (kept := _fresh(key)) is not None:
        return kept
    credentials, expires = await fetcher(time_limit)
    _kept[key] = (credentials, expires)
    return credentials


def _source(region: str, environ: Mapping[str, str]) -> tuple[tuple[str, ...], Fetcher]:
    """Where temporary credentials come from (a cache key, and how to fetch them)."""
    if environ.get("AWS_ROLE_ARN") and environ.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        endpoint = environ.get("AWS_ENDPOINT_URL_STS") or f"https://sts.{region}.amazonaws.com"
        return ("sts", endpoint, environ["AWS_ROLE_ARN"]), partial(_web_identity, endpoint, environ)
    if uri := environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return ("container", uri), partial(_container, uri, environ)
    if environ.get("AWS_EC2_METADATA_DISABLED", "").lower() != "true":
        endpoint = environ.get("AWS_EC2_METADATA_SERVICE_ENDPOINT") or IMDS
        return ("imds", endpoint), partial(_instance_profile, endpoint)
    raise MetricError(
        FailureKind.MISSING_CREDENTIALS,
        "provider cloudwatch needs credentials: spec.provider.secretRef (a Secret with"
        " aws_access_key_id and aws_secret_access_key), or the controller's AWS_ACCESS_KEY_ID"
        " and AWS_SECRET_ACCESS_KEY, an EKS service account role (AWS_ROLE_ARN and"
        " AWS_WEB_IDENTITY_TOKEN_FILE) or EKS Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI);"
        " the EC2 instance profile is not asked, AWS_EC2_METADATA_DISABLED being true",
    )


def _fresh(key: tuple[str, ...]) -> AwsCredentials | None:
    kept = _kept.get(key)
    return kept[0] if kept is not None and kept[1] > time.time() + _MARGIN else None


def _read_token(path: str, *, what: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise MetricError(
            FailureKind.MISSING_CREDENTIALS, f"{what} {path}: {error.strerror}"
        ) from None


async def _web_identity(
    endpoint: str, environ: Mapping[str, str], time_limit: float
) -> tuple[AwsCredentials, float]:
    token = _read_token(environ["AWS_WEB_IDENTITY_TOKEN_FILE"], what="AWS_WEB_IDENTITY_TOKEN_FILE")
    request = Request(
        "AWS STS",
        endpoint.rstrip("/") + "/",
        time_limit,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urlencode(
            {
                "Action": "AssumeRoleWithWebIdentity",
                "Version": "2011-06-15",
                "RoleArn": environ["AWS_ROLE_ARN"],
                "RoleSessionName": environ.get("AWS_ROLE_SESSION_NAME") or "canary-controller",
                "WebIdentityToken": token,
            }
        ).encode(),
        classify=_sts_refused,
    )
    body = await fetch(request)
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 - bounded (1 MiB) answer of STS
    except ElementTree.ParseError:
        raise MetricError(FailureKind.BAD_RESPONSE, f"{request.where}: answer is not XML") from None
    found = {
        name: root.findtext(f".//{_STS_NS}Credentials/{_STS_NS}{name}")
        for name in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
    }
    if not (found["AccessKeyId"] and found["SecretAccessKey"] and found["SessionToken"]):
        raise MetricError(FailureKind.BAD_RESPONSE, f"{request.where}: no Credentials in answer")
    credentials = AwsCredentials(
        found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"]
    )
    return credentials, _expiry(found["Expiration"])


async def _container(
    uri: str, environ: Mapping[str, str], time_limit: float
) -> tuple[AwsCredentials, float]:
    token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
    if path := environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
        token = _read_token(path, what="AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    request = Request(
        "AWS container credentials",
        uri,
        time_limit,
        headers={"Authorization": token} if token else {},
    )
    return _from_json(request, json_of(request, await fetch(request)))


async def _instance_profile(endpoint: str, time_limit: float) -> tuple[AwsCredentials, float]:
    """IMDSv2: a session token (PUT), the instance profile's role name, its credentials."""
    base = endpoint.rstrip("/")
    session = await fetch(
        Request(
            "EC2 instance metadata",
            f"{base}/latest/api/token",
            time_limit,
            method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "21600"},
        )
    )
    headers = {"X-aws-ec2-metadata-token": session.decode(errors="replace").strip()}
    listing = Request(
        "EC2 instance metadata", f"{base}{_CREDENTIALS_PATH}", time_limit, headers=headers
    )
    roles = (await fetch(listing)).decode(errors="replace").split()
    if not roles:
        raise MetricError(
            FailureKind.MISSING_CREDENTIALS, f"{listing.where}: the instance has no IAM role"
        )
    request = Request(
        "EC2 instance metadata", f"{base}{_CREDENTIALS_PATH}{roles[0]}", time_limit, headers=headers
    )
    return _from_json(request, json_of(request, await fetch(request)))


def _from_json(request: Request, answer: object) -> tuple[AwsCredentials, float]:
    """Credentials in the JSON of the container endpoint and of IMDS (the same field names)."""
    fields = answer if isinstance(answer, dict) else {}
    key_id, secret = fields.get("AccessKeyId"), fields.get("SecretAccessKey")
    if not (isinstance(key_id, str) and isinstance(secret, str) and key_id and secret):
        raise MetricError(FailureKind.BAD_RESPONSE, f"{request.where}: no credentials in answer")
    session = fields.get("Token")
    credentials = AwsCredentials(key_id, secret, session if isinstance(session, str) else None)
    return credentials, _expiry(fields.get("Expiration"))


def _expiry(text: object) -> float:
    """The epoch time of an ISO 8601 expiry; an hour from now when there is none."""
    if isinstance(text, str) and text:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return time.time() + 3600


def _sts_refused(status: int, _body: bytes) -> FailureKind | None:
    """STS answers a refused token or role with 400 (InvalidIdentityToken) or 403."""
    return FailureKind.AUTH_REFUSED if status in {400, 401, 403} else None
