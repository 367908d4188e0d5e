"""CloudWatch's pure parts: SigV4 against AWS's published examples, the answer parser, the
error codes AWS sends with HTTP 400, and where the credentials come from."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers import Connections, ProviderSettings, connect_client
from canary.metrics.providers.cloudwatch import CloudWatchClient, classify, value_of
from canary.metrics.providers.sigv4 import AwsCredentials, sign

EXAMPLE = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
WHEN = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)


def test_sigv4_matches_the_aws_test_suite_get_vanilla() -> None:
    headers = sign(
        method="GET",
        host="example.amazonaws.com",
        path="/",
        query={},
        headers={},
        payload=b"",
        credentials=EXAMPLE,
        region="us-east-1",
        service="service",
        now=WHEN,
    )
    assert headers["X-Amz-Date"] == "20150830T123600Z"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,"
        " SignedHeaders=host;x-amz-date,"
        " Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    )


def test_sigv4_matches_the_documented_iam_list_users_example() -> None:
    headers = sign(
        method="GET",
        host="iam.amazonaws.com",
        path="/",
        query={"Action": "ListUsers", "Version": "2010-05-08"},
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        payload=b"",
        credentials=EXAMPLE,
        region="us-east-1",
        service="iam",
        now=WHEN,
    )
    assert headers["Authorization"].endswith(
        "SignedHeaders=content-type;host;x-amz-date,"
        " Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


def test_a_session_token_is_sent_and_signed() -> None:
    temporary = AwsCredentials("AKID", "secret", "session-token")
    headers = sign(
        method="POST",
        host="monitoring.eu-west-1.amazonaws.com",
        path="/",
        query={},
        headers={},
        payload=b"{}",
        credentials=temporary,
        region="eu-west-1",
        service="monitoring",
        now=WHEN,
    )
    assert headers["X-Amz-Security-Token"] == "session-token"
    assert "SignedHeaders=host;x-amz-date;x-amz-security-token," in headers["Authorization"]


def _result(*values: Any, status: str = "Complete") -> dict[str, Any]:
    return {"Id": "e1", "StatusCode": status, "Values": list(values)}


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"MetricDataResults": []}, FailureKind.NO_DATA),
        ({"MetricDataResults": [_result()]}, FailureKind.NO_DATA),
        ({"MetricDataResults": [_result(1), _result(2)]}, FailureKind.SEVERAL_SERIES),
        ({"MetricDataResults": [_result(status="Forbidden")]}, FailureKind.QUERY_ERROR),
        ({"MetricDataResults": [_result("x")]}, FailureKind.BAD_RESPONSE),
        ({}, FailureKind.BAD_RESPONSE),
    ],
)
def test_an_answer_without_one_number_says_why(answer: Any, kind: FailureKind) -> None:
    with pytest.raises(MetricError) as caught:
        value_of(answer)
    assert caught.value.kind is kind


def test_the_value_is_the_newest() -> None:
    assert value_of({"MetricDataResults": [_result(3.5, 1.0)]}) == 3.5


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"__type": "Throttling", "message": "Rate exceeded"}', FailureKind.THROTTLED),
        (b'{"__type": "com.amazon.coral.service#ExpiredTokenException"}', FailureKind.AUTH_REFUSED),
        (b'{"__type": "InvalidParameterValue"}', None),
        (b"<html>", None),
    ],
)
def test_aws_error_codes_are_classified(body: bytes, kind: FailureKind | None) -> None:
    assert classify(400, body) is kind


class _NoPrometheus:
    def client(self, url: str, **_options: object) -> Any:
        raise AssertionError(url)


CONNECTIONS = Connections(prometheus=_NoPrometheus(), default_prometheus="http://x", timeout=1)


async def test_a_region_is_required() -> None:
    client = connect_client(ProviderSettings(type="cloudwatch"), CONNECTIONS)
    with pytest.raises(MetricError, match=r"spec\.provider\.region is required"):
        await client.query("[]")


async def test_without_a_secret_or_an_identity_the_query_fails_saying_where_to_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    client = connect_client(ProviderSettings(type="cloudwatch", region="eu-west-1"), CONNECTIONS)
    assert isinstance(client, CloudWatchClient)
    assert client.address == "https://monitoring.eu-west-1.amazonaws.com"
    with pytest.raises(MetricError) as caught:
        await client.query('[{"Id": "e1"}]')
    assert caught.value.kind is FailureKind.MISSING_CREDENTIALS
    assert "AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE" in caught.value.message


async def test_a_query_that_is_not_a_json_list_is_a_template_error() -> None:
    async def example() -> AwsCredentials:
        return EXAMPLE

    client = CloudWatchClient(
        "http://127.0.0.1:1",
        region="eu-west-1",
        credentials=example,
        window=600,
        insecure_skip_verify=False,
        timeout=1,
    )
    with pytest.raises(MetricError) as caught:
        await client.query('{"Id": "e1"}')
    assert caught.value.kind is FailureKind.TEMPLATE_ERROR
