"""Which credentials a MetricTemplate's secretRef yields, and one Prometheus client per
address and credentials (the Secret read through a fake reader; the sandbox test runs them
against a real, secured Prometheus)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from canary.api.metrictemplate import MetricTemplate
from canary.controller import checks
from canary.controller.checks import CredentialsError, PrometheusPool, credentials_of
from canary.kube.resources import SECRET, ResourceKind
from canary.metrics.prometheus import Credentials

PASSWORD = "p"  # noqa: S105 - test values
TOKEN = "t"  # noqa: S105
BASIC = Credentials(username="u", password=PASSWORD)
BEARER = Credentials(bearer_token=TOKEN)
MISSING = "Secret shop/prom (spec.provider.secretRef) has no key {!r}: it must hold token, or {}"


def _template(secret: str | None) -> MetricTemplate:
    provider: dict[str, Any] = {"type": "prometheus", "address": "https://prom.example"}
    if secret is not None:
        provider["secretRef"] = {"name": secret}
    return MetricTemplate.model_validate(
        {
            "metadata": {"name": "t", "namespace": "shop"},
            "spec": {"provider": provider, "query": "1"},
        }
    )


def _reader(secrets: dict[str, dict[str, str]]) -> Any:
    async def read(kind: ResourceKind, namespace: str, name: str) -> dict[str, Any] | None:
        assert (kind, namespace) == (SECRET, "shop")
        if name not in secrets:
            return None
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in secrets[name].items()}
        return {"metadata": {"name": name, "namespace": namespace}, "data": encoded}

    return read


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"username": "u", "password": "p"}, BASIC),
        ({"token": "t"}, BEARER),
        ({"token": "t", "username": "u", "password": "p"}, BEARER),
        ({"token": "", "username": "u", "password": "p"}, BASIC),
    ],
)
async def test_token_else_username_and_password(
    values: dict[str, str], expected: Credentials
) -> None:
    read = _reader({"prom": values})
    assert await credentials_of(read, _template("prom"), namespace="shop") == expected


async def test_no_secret_ref_means_no_credentials() -> None:
    assert await credentials_of(_reader({}), _template(None), namespace="shop") is None


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({}, "Secret shop/prom (spec.provider.secretRef) not found"),
        (
            {"prom": {"password": "p"}},
            MISSING.format("username", "username and password"),
        ),
        (
            {"prom": {"username": "u"}},
            MISSING.format("password", "username and password"),
        ),
    ],
)
async def test_what_is_missing_is_named(secrets: dict[str, dict[str, str]], message: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        await credentials_of(_reader(secrets), _template("prom"), namespace="shop")
    assert str(caught.value) == message


def test_one_client_per_address_and_credentials_the_oldest_closed_beyond_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checks, "MAX_CLIENTS", 2)
    pool = PrometheusPool(timeout=1)
    alice = BASIC
    first = pool.client("http://127.0.0.1:1", credentials=alice)
    assert pool.client("http://127.0.0.1:1", credentials=alice) is first
    other = pool.client("http://127.0.0.1:1", credentials=BEARER)
    assert other is not first
    insecure = pool.client("http://127.0.0.1:1", credentials=alice, insecure_skip_verify=True)
    assert insecure is not first
    # Three keys with room for two: the least recently used one (`first`) was closed.
    assert pool.client("http://127.0.0.1:1", credentials=alice) is not first
    pool.close()
