"""CloudWatch without a secretRef: the controller's own AWS identity, as EKS gives it to a pod.

An STS test server on 127.0.0.1 answers `AssumeRoleWithWebIdentity` (the service account's
token read from AWS_WEB_IDENTITY_TOKEN_FILE) with temporary credentials in STS's XML; a
container credentials endpoint answers as EKS Pod Identity's agent does. The CloudWatch test
server of provider_servers.py then checks that the query is signed with those credentials and
carries their session token. An EC2 instance metadata test server answers IMDSv2's session
token and role credentials. A refused web identity is AuthRefused.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers import Connections, ProviderSettings, connect
from tests.integration import provider_servers as servers
from tests.integration.local_http import serving

pytestmark = pytest.mark.integration

SERVICE_ACCOUNT_TOKEN = "eyJhbGciOiJSUzI1NiJ9.service-account-token"  # noqa: S105
POD_IDENTITY_TOKEN = "pod-identity-token"  # noqa: S105
SESSION_TOKEN = "FwoGZXIvYXdzE-session"  # noqa: S105
ROLE = "arn:aws:iam::123456789012:role/canary"
IMDS_SESSION = "imds-session-token"
QUERY = '[{"Id": "e1", "Expression": "SEARCH(\'{App,case} case=pass\', \'Sum\', 60)"}]'


class _NoPrometheus:
    def client(self, url: str, **_options: object) -> object:
        raise AssertionError(url)


STS_ANSWER = f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>{servers.AWS_KEY_ID}</AccessKeyId>
      <SecretAccessKey>{servers.AWS_SECRET_KEY}</SecretAccessKey>
      <SessionToken>{SESSION_TOKEN}</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>"""
STS_REFUSAL = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>
  <Message>Couldn't retrieve verification key from your identity provider</Message></Error>
</ErrorResponse>"""


@pytest.fixture
async def aws() -> AsyncIterator[str]:
    """STS and a container credentials endpoint on one test server; its URL."""

    async def sts(request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("Action") != "AssumeRoleWithWebIdentity" or form.get("RoleArn") != ROLE:
            return web.Response(status=400, text=STS_REFUSAL, content_type="text/xml")
        if form.get("WebIdentityToken") != SERVICE_ACCOUNT_TOKEN:
            return web.Response(status=400, text=STS_REFUSAL, content_type="text/xml")
        return web.Response(text=STS_ANSWER, content_type="text/xml")

    async def pod_identity(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != POD_IDENTITY_TOKEN:
            return web.json_response({"message": "invalid token"}, status=401)
        return web.json_response(
            {
                "AccessKeyId": servers.AWS_KEY_ID,
                "SecretAccessKey": servers.AWS_SECRET_KEY,
                "Token": SESSION_TOKEN,
                "AccountId": "123456789012",
                "Expiration": "2099-01-01T00:00:00Z",
            }
        )

    async def imds_token(request: web.Request) -> web.Response:
        if not request.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return web.Response(status=400)
        return web.Response(text=IMDS_SESSION)

    async def imds_roles(request: web.Request) -> web.Response:
        if request.headers.get("X-aws-ec2-metadata-token") != IMDS_SESSION:
            return web.Response(status=401)
        role = request.match_info["role"]
        if not role:
            return web.Response(text="canary-node-role\n")
        if role != "canary-node-role":
            return web.Response(status=404)
        return web.json_response(
            {
                "Code": "Success",
                "Type": "AWS-HMAC",
                "AccessKeyId": servers.AWS_KEY_ID,
                "SecretAccessKey": servers.AWS_SECRET_KEY,
                "Token": SESSION_TOKEN,
                "Expiration": "2099-01-01T00:00:00Z",
            }
        )

    app = web.Application()
    app.router.add_post("/", sts)
    app.router.add_get("/v1/credentials", pod_identity)
    app.router.add_put("/latest/api/token", imds_token)
    app.router.add_get("/latest/meta-data/iam/security-credentials/{role:.*}", imds_roles)
    async with serving(app) as url:
        yield url


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never 169.254.169.254 in tests


async def _query(cloudwatch: str) -> float:
    settings = ProviderSettings(type="cloudwatch", address=cloudwatch, region=servers.AWS_REGION)
    connections = Connections(prometheus=_NoPrometheus(), default_prometheus="", timeout=5)  # type: ignore[arg-type]
    return await connect(settings, connections).query(QUERY)


async def test_an_eks_service_account_role_signs_the_query(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear(monkeypatch)
    token_file = tmp_path / "token"
    token_file.write_text(SERVICE_ACCOUNT_TOKEN + "\n")
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws)
    async with servers.serve("cloudwatch") as cloudwatch:
        assert await _query(cloudwatch.url) == servers.PASS_VALUE
    (seen,) = cloudwatch.seen
    assert seen.credentials is not None
    assert f"Credential={servers.AWS_KEY_ID}/" in seen.credentials
    assert "x-amz-security-token" in seen.credentials  # the session token is signed


async def test_a_refused_web_identity_is_auth_refused(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear(monkeypatch)
    token_file = tmp_path / "token"
    token_file.write_text("someone-else's token")
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", aws)
    async with servers.serve("cloudwatch") as cloudwatch:
        with pytest.raises(MetricError) as caught:
            await _query(cloudwatch.url)
    assert caught.value.kind is FailureKind.AUTH_REFUSED
    assert "AWS STS at http://127.0.0.1:" in caught.value.message
    assert "someone-else" not in caught.value.message
    assert cloudwatch.seen == []


async def test_eks_pod_identity_signs_the_query(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear(monkeypatch)
    token_file = tmp_path / "pod-identity-token"
    token_file.write_text(POD_IDENTITY_TOKEN)
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{aws}/v1/credentials")
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
    async with servers.serve("cloudwatch") as cloudwatch:
        assert await _query(cloudwatch.url) == servers.PASS_VALUE
    assert f"Credential={servers.AWS_KEY_ID}/" in str(cloudwatch.seen[0].credentials)


async def test_an_ec2_instance_profile_signs_the_query(
    aws: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "false")
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", aws)
    async with servers.serve("cloudwatch") as cloudwatch:
        assert await _query(cloudwatch.url) == servers.PASS_VALUE
    assert "x-amz-security-token" in str(cloudwatch.seen[0].credentials)
