"""The controller's own AWS credentials, for a CloudWatch template without a secretRef.

Where the AWS SDKs look, in their order, for the sources a pod has:

1. `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`);
2. a web identity, as EKS's IAM roles for service accounts set it up: `AWS_ROLE_ARN` and
   `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged with STS `AssumeRoleWithWebIdentity` at
   `AWS_ENDPOINT_URL_STS`, else `https://sts.<region>.amazonaws.com`;
3. a container credentials endpoint, as EKS Pod Identity (and ECS) set it up:
   `AWS_CONTAINER_CREDENTIALS_FULL_URI` with the token of
   `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (or `AWS_CONTAINER_AUTHORIZATION_TOKEN`).

Temporary credentials are kept until five minutes before they expire. EC2 instance profiles
(IMDS) are not read. Every answer is read bounded (fetch.py); errors never show a token.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlencode
from xml.etree import ElementTree

from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.fetch import Request, fetch, json_of
from canary.metrics.providers.sigv4 import AwsCredentials

_MARGIN: Final = 300.0
_STS_NS: Final = "{https://sts.amazonaws.com/doc/2011-06-15/}"
_kept: dict[tuple[str, ...], tuple[AwsCredentials, float]] = {}


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
    if environ.get("AWS_ROLE_ARN") and environ.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        endpoint = environ.get("AWS_ENDPOINT_URL_STS") or f"https://sts.{region}.amazonaws.com"
        key: tuple[str, ...] = ("sts", endpoint, environ["AWS_ROLE_ARN"])
        if (kept := _fresh(key)) is not None:
            return kept
        return _keep(key, *await _web_identity(endpoint, environ, time_limit=time_limit))
    if uri := environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        key = ("container", uri)
        if (kept := _fresh(key)) is not None:
            return kept
        return _keep(key, *await _container(uri, environ, time_limit=time_limit))
    raise MetricError(
        FailureKind.MISSING_CREDENTIALS,
        "provider cloudwatch needs credentials: spec.provider.secretRef (a Secret with"
        " aws_access_key_id and aws_secret_access_key), or the controller's AWS_ACCESS_KEY_ID"
        " and AWS_SECRET_ACCESS_KEY, an EKS service account role (AWS_ROLE_ARN and"
        " AWS_WEB_IDENTITY_TOKEN_FILE) or EKS Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI)",
    )


def _fresh(key: tuple[str, ...]) -> AwsCredentials | None:
    kept = _kept.get(key)
    return kept[0] if kept is not None and kept[1] > time.time() + _MARGIN else None


def _keep(key: tuple[str, ...], credentials: AwsCredentials, expires: float) -> AwsCredentials:
    _kept[key] = (credentials, expires)
    return credentials


def _read_token(path: str, *, what: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError as error:
        raise MetricError(
            FailureKind.MISSING_CREDENTIALS, f"{what} {path}: {error.strerror}"
        ) from None


async def _web_identity(
    endpoint: str, environ: Mapping[str, str], *, time_limit: float
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
    uri: str, environ: Mapping[str, str], *, time_limit: float
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
    answer = json_of(request, await fetch(request))
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
