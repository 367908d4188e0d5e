"""Cloud Monitoring's pure parts: the answer parser, the service account key, the JWT."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.providers.stackdriver import SCOPE, ServiceAccountKey, value_of

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()


def _series(*values: dict[str, Any]) -> dict[str, Any]:
    return {"pointData": [{"values": list(values)}]}


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({}, FailureKind.NO_DATA),
        ({"timeSeriesData": [{"pointData": []}]}, FailureKind.NO_DATA),
        ({"timeSeriesData": [_series()]}, FailureKind.NO_DATA),
        ({"timeSeriesData": [_series({"doubleValue": 1})] * 2}, FailureKind.SEVERAL_SERIES),
        (
            {"timeSeriesData": [_series({"doubleValue": 1})], "nextPageToken": "p2"},
            FailureKind.SEVERAL_SERIES,
        ),
        ({"timeSeriesData": [_series({"doubleValue": "NaN"})]}, FailureKind.NAN),
        ({"timeSeriesData": [_series({"stringValue": "up"})]}, FailureKind.BAD_RESPONSE),
        ([], FailureKind.BAD_RESPONSE),
    ],
)
def test_an_answer_without_one_number_says_why(answer: Any, kind: FailureKind) -> None:
    with pytest.raises(MetricError) as caught:
        value_of(answer)
    assert caught.value.kind is kind


def test_double_and_int64_values_are_numbers() -> None:
    assert value_of({"timeSeriesData": [_series({"doubleValue": 0.5})]}) == 0.5
    assert value_of({"timeSeriesData": [_series({"int64Value": "42"})]}) == 42.0


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("not json", "is not a service account JSON key (JSONDecodeError)"),
        (json.dumps({"private_key": PEM, "token_uri": "t"}), "(no 'client_email')"),
        (json.dumps({"private_key": "x", "client_email": "e", "token_uri": "t"}), "(ValueError)"),
    ],
)
def test_a_bad_key_is_named_without_showing_it(raw: str, words: str) -> None:
    with pytest.raises(MetricError) as caught:
        ServiceAccountKey.parse(raw, holder="Secret shop/gcp (spec.provider.secretRef)")
    assert caught.value.kind is FailureKind.MISSING_CREDENTIALS
    assert "Secret shop/gcp (spec.provider.secretRef) key 'serviceAccountKey'" in str(caught.value)
    assert words in str(caught.value)
    assert "PRIVATE" not in str(caught.value)


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_the_assertion_is_an_rs256_jwt_for_monitoring_read() -> None:
    document = {"private_key": PEM, "client_email": "sa@p.iam", "token_uri": "https://t/token"}
    key = ServiceAccountKey.parse(json.dumps(document), holder="Secret")
    header, claims, signature = key.assertion(1000).split(".")
    KEY.public_key().verify(
        _unb64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert json.loads(_unb64(header))["alg"] == "RS256"
    assert json.loads(_unb64(claims)) == {
        "iss": "sa@p.iam",
        "scope": SCOPE,
        "aud": "https://t/token",
        "iat": 1000,
        "exp": 4600,
    }
