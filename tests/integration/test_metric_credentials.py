"""A MetricTemplate's `secretRef` and `insecureSkipVerify`, against a Prometheus that needs them.

A second Prometheus, the sandbox's binary, is started here behind its own web config: basic
auth (a bcrypt hash) and TLS with a certificate of a throw-away CA (the sandbox's PKI helper).
It scrapes the mesh simulator as the sandbox's does. MetricTemplates and Secrets are created on
the sandbox's API server and the checks run through the controller's own path (`run_checks`
with the API reader): the right Secret passes; no Secret gets 401 and fails saying so; a
missing Secret or key fails naming it; the certificate is refused unless the template skips
verification or the CA is trusted.
"""

from __future__ import annotations

import base64
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import bcrypt
import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.controller.checks import PrometheusPool
from canary.core.model import CheckResult, Verdict
from canary.kube import resources
from canary.sandbox.binaries import cached_binaries, default_cache_root
from canary.sandbox.pki import PkiFiles, create_pki
from canary.sandbox.state import SandboxState
from tests.integration.local_http import free_port
from tests.integration.metric_checks import canary_with, check_results, opaque_secret
from tests.integration.waiting import eventually

pytestmark = pytest.mark.integration

USER = "canary"
PASSWORD = "s3cret-Pa55"  # noqa: S105 - the test Prometheus' own password
WRONG = "not-it"  # a wrong password, on purpose
TOKEN = "t0ken"  # noqa: S105 - a bearer token this Prometheus does not know


@dataclass(frozen=True)
class SecuredPrometheus:
    url: str
    pki: PkiFiles


@pytest.fixture(scope="module")
def secured_prometheus_process(
    sandbox: SandboxState, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecuredPrometheus]:
    binaries = cached_binaries(default_cache_root())
    assert binaries is not None, "the sandbox's binaries are not cached"
    directory = tmp_path_factory.mktemp("secured-prometheus")
    pki = create_pki(directory / "pki")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web_config = directory / "web.yml"
    web_config.write_text(
        yaml.safe_dump(
            {
                "tls_server_config": {
                    "cert_file": str(pki.serving_cert),
                    "key_file": str(pki.serving_key),
                },
                "basic_auth_users": {USER: hashed},
            }
        )
    )
    config = directory / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "5s"},
                "scrape_configs": [
                    {
                        "job_name": "meshsim",
                        "static_configs": [{"targets": [f"127.0.0.1:{sandbox.ports.meshsim}"]}],
                    }
                ],
            }
        )
    )
    port = free_port()
    log = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            str(binaries.prometheus),
            f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.config.file={web_config}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield SecuredPrometheus(url=f"https://127.0.0.1:{port}", pki=pki)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture
async def secured(secured_prometheus_process: SecuredPrometheus) -> SecuredPrometheus:
    """The secured Prometheus, once it answers an authenticated, verified /-/ready."""
    prometheus = secured_prometheus_process
    context = ssl.create_default_context(cafile=str(prometheus.pki.ca_cert))
    auth = {"Authorization": "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}

    async def ready() -> int | str:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
                session.get(f"{prometheus.url}/-/ready", ssl=context, headers=auth) as response,
            ):
                return response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            return repr(error)

    await eventually(ready, until=lambda status: status == 200, within=60, what="Prometheus up")
    return prometheus


def _secret(name: str, namespace: str, **values: str) -> dict[str, Any]:
    return opaque_secret(name, namespace, values)


async def _check(
    api: ApiClient,
    namespace: str,
    pool: PrometheusPool,
    *,
    address: str,
    ref: str | None = None,
    insecure: bool = False,
) -> CheckResult:
    """Create a MetricTemplate asking `address` for vector(1), run a Canary's check of it."""
    provider: dict[str, Any] = {"type": "prometheus", "address": address}
    if ref is not None:
        provider["secretRef"] = {"name": ref}
    if insecure:
        provider["insecureSkipVerify"] = True
    template = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "MetricTemplate",
        "metadata": {"name": "one", "namespace": namespace},
        "spec": {"provider": provider, "query": "vector(1)"},
    }
    await resources.apply(api, template)
    metric = {
        "name": "authenticated",
        "templateRef": {"name": "one"},
        "thresholdRange": {"min": 1, "max": 1},
    }
    canary = canary_with(namespace, [metric], maxWeight=50)
    (result,) = (await check_results(api, pool, canary)).values()
    return result


async def test_the_right_secret_passes(
    api: ApiClient, namespace: str, secured: SecuredPrometheus, pool: PrometheusPool
) -> None:
    await resources.apply(api, _secret("prom", namespace, username=USER, password=PASSWORD))
    result = await _check(api, namespace, pool, address=secured.url, ref="prom", insecure=True)
    assert (result.verdict, result.value) == (Verdict.PASS, 1.0), result.message


async def test_without_a_secret_the_query_gets_401_and_fails(
    api: ApiClient, namespace: str, secured: SecuredPrometheus, pool: PrometheusPool
) -> None:
    result = await _check(api, namespace, pool, address=secured.url, insecure=True)
    assert (result.verdict, result.value) == (Verdict.FAIL, None)
    assert result.message.startswith(
        f"authenticated: HTTP 401 Unauthorized from Prometheus at {secured.url}:"
    )


async def test_a_wrong_password_fails_with_401(
    api: ApiClient, namespace: str, secured: SecuredPrometheus, pool: PrometheusPool
) -> None:
    await resources.apply(api, _secret("prom", namespace, username=USER, password=WRONG))
    result = await _check(api, namespace, pool, address=secured.url, ref="prom", insecure=True)
    assert result.verdict is Verdict.FAIL
    assert "HTTP 401 Unauthorized" in result.message


async def test_a_token_is_sent_as_bearer_in_preference_to_a_password(
    api: ApiClient, namespace: str, secured: SecuredPrometheus, pool: PrometheusPool
) -> None:
    # Flagger's precedence: `token` wins over username and password. This Prometheus knows
    # only basic auth, so the bearer token is refused.
    secret = _secret("prom", namespace, token=TOKEN, username=USER, password=PASSWORD)
    await resources.apply(api, secret)
    result = await _check(api, namespace, pool, address=secured.url, ref="prom", insecure=True)
    assert result.verdict is Verdict.FAIL
    assert "HTTP 401 Unauthorized" in result.message


async def test_a_missing_secret_fails_the_check_naming_it(
    api: ApiClient, namespace: str, secured: SecuredPrometheus, pool: PrometheusPool
) -> None:
    result = await _check(api, namespace, pool, address=secured.url, ref="absent", insecure=True)
    assert (result.verdict, result.value) == (Verdict.FAIL, None)
    assert result.message == (
        f"authenticated: MetricTemplate {namespace}/one: Secret {namespace}/absent"
        " (spec.provider.secretRef) not found"
    )


async def test_a_secret_without_a_password_fails_naming_the_key(
    api: ApiClient, namespace: str, secured: SecuredPrometheus, pool: PrometheusPool
) -> None:
    await resources.apply(api, _secret("prom", namespace, username=USER))
    result = await _check(api, namespace, pool, address=secured.url, ref="prom", insecure=True)
    assert result.verdict is Verdict.FAIL
    assert result.message == (
        f"authenticated: MetricTemplate {namespace}/one: Secret {namespace}/prom"
        " (spec.provider.secretRef) has no key 'password': it must hold token, or username"
        " and password"
    )


async def test_the_certificate_is_verified_unless_skipped_or_its_ca_trusted(
    api: ApiClient,
    namespace: str,
    secured: SecuredPrometheus,
    pool: PrometheusPool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await resources.apply(api, _secret("prom", namespace, username=USER, password=PASSWORD))
    refused = await _check(api, namespace, pool, address=secured.url, ref="prom")
    assert refused.verdict is Verdict.FAIL
    assert refused.message.startswith(
        f"authenticated: TLS handshake with Prometheus at {secured.url} failed:"
    )
    # The CA trusted (requests reads REQUESTS_CA_BUNDLE, as the controller's environment may).
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(secured.pki.ca_cert))
    fresh = PrometheusPool(timeout=5)
    try:
        trusted = await _check(api, namespace, fresh, address=secured.url, ref="prom")
    finally:
        fresh.close()
    assert (trusted.verdict, trusted.value) == (Verdict.PASS, 1.0), trusted.message
