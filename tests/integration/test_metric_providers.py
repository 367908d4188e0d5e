"""Every non-Prometheus provider, through the controller's own path, against a server speaking
its API on 127.0.0.1 (tests/integration/provider_servers.py).

MetricTemplates and Secrets are created on the sandbox's API server; a Canary's checks run
through `run_checks` with the API reader, as the controller runs them. For each provider: a
passing, a failing (out of range), a no-data, an error, a throttled, a NaN and a several-series
answer each give the right verdict and reason; the credentials from the Secret are sent (the
server saw them); wrong credentials are refused with AuthRefused; a Secret without a key the
provider needs fails naming the key; and no credential appears in any message or log line.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.api.canary import Canary
from canary.api.metrictemplate import SECRET_NEEDED_RULE
from canary.controller.checks import PrometheusPool
from canary.core.model import CheckResult, Verdict
from canary.kube import resources
from canary.kube.errors import Invalid
from tests.integration import provider_servers as servers
from tests.integration.crds import apply_with_crds
from tests.integration.metric_checks import canary_with, check_results, opaque_secret

pytestmark = pytest.mark.integration

# provider -> (the template's query, the right Secret's values, the same with a wrong value)
PROVIDERS: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "graphite": (
        "target=sumSeries(app.{{ variables.case }}.errors)&from=-{{ interval }}",
        {"username": servers.GRAPHITE_USER, "password": servers.GRAPHITE_PASSWORD},
        {"username": servers.GRAPHITE_USER, "password": "wrong-password"},
    ),
    "influxdb": (
        (
            'from(bucket: "app") |> range(start: -{{ interval }})'
            ' |> filter(fn: (r) => r.case == "{{ variables.case }}") |> mean()'
        ),
        {"token": servers.INFLUX_TOKEN, "org": servers.INFLUX_ORG},
        {"token": "wrong-token", "org": servers.INFLUX_ORG},
    ),
    "datadog": (
        "sum:requests.errors{case:{{ variables.case }},service:{{ target }}}.as_count()",
        {
            "datadog_api_key": servers.DATADOG_API_KEY,
            "datadog_application_key": servers.DATADOG_APP_KEY,
        },
        {"datadog_api_key": "wrong-key", "datadog_application_key": servers.DATADOG_APP_KEY},
    ),
    "newrelic": (
        (
            "SELECT count(*) FROM Transaction WHERE appName = '{{ target }}'"
            " AND case = '{{ variables.case }}'"
        ),
        {
            "newrelic_account_id": servers.NEWRELIC_ACCOUNT,
            "newrelic_query_key": servers.NEWRELIC_QUERY_KEY,
        },
        {"newrelic_account_id": servers.NEWRELIC_ACCOUNT, "newrelic_query_key": "wrong-key"},
    ),
    "dynatrace": (
        'builtin:service.errors.total.rate:filter(eq("case","{{ variables.case }}"))',
        {"dynatrace_token": servers.DYNATRACE_TOKEN},
        {"dynatrace_token": "wrong-token"},
    ),
    "cloudwatch": (
        (
            '[{"Id": "e1", "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Errors",'
            ' "Dimensions": [{"Name": "case", "Value": "{{ variables.case }}"}]},'
            ' "Period": 60, "Stat": "Sum"}}]'
        ),
        {"aws_access_key_id": servers.AWS_KEY_ID, "aws_secret_access_key": servers.AWS_SECRET_KEY},
        {"aws_access_key_id": servers.AWS_KEY_ID, "aws_secret_access_key": "wrong-secret"},
    ),
    "stackdriver": (
        (
            "fetch k8s_container | metric 'custom/errors' | filter case == '{{ variables.case }}'"
            " | within {{ interval }} | every {{ interval }}"
        ),
        {"project": servers.GCP_PROJECT, "serviceAccountKey": "@KEY@"},
        {"project": servers.GCP_PROJECT, "serviceAccountKey": "@OTHER_KEY@"},
    ),
}
PROVIDERS["splunk"] = (
    "data('errors', filter=filter('case', '{{ variables.case }}')).sum().publish()",
    {"sf_token_key": servers.SPLUNK_TOKEN},
    {"sf_token_key": "wrong-token"},
)
# A Secret key each provider cannot do without (graphite's are optional together).
REQUIRED = {"graphite": "password", "stackdriver": "project"}
SECRET_VALUES = {
    value for _, right, wrong in PROVIDERS.values() for value in (*right.values(), *wrong.values())
} - {
    servers.GRAPHITE_USER,
    servers.INFLUX_ORG,
    servers.NEWRELIC_ACCOUNT,
    servers.AWS_KEY_ID,
    servers.GCP_PROJECT,
} | {servers.GCP_ACCESS_TOKEN, servers.SPLUNK_TOKEN}

# case -> (verdict, value, words the message must hold)
EXPECTED: dict[str, tuple[Verdict, float | None, str]] = {
    "pass": (Verdict.PASS, servers.PASS_VALUE, "within [0, 1]"),
    "fail": (Verdict.FAIL, servers.FAIL_VALUE, "> 1 (max)"),
    "nodata": (Verdict.FAIL, None, "no data"),
    "several": (Verdict.FAIL, None, "several series"),
    "error": (Verdict.FAIL, None, "query error"),
    "throttle": (Verdict.FAIL, None, "throttled the query (HTTP 4"),
}


def _canary(namespace: str, template: str, cases: tuple[str, ...]) -> Canary:
    metrics = [
        {
            "name": case,
            "interval": "1m",
            "templateRef": {"name": template},
            "templateVariables": {"case": case},
            "thresholdRange": {"min": 0, "max": 1},
        }
        for case in cases
    ]
    return canary_with(namespace, metrics, threshold=2, maxWeight=50)


async def _checks(
    api: ApiClient,
    namespace: str,
    pool: PrometheusPool,
    provider: str,
    address: str,
    *,
    secret: dict[str, str] | None,
    cases: tuple[str, ...],
) -> dict[str, CheckResult]:
    """Create `provider`'s template (and its Secret), run the Canary's checks of `cases`."""
    query = PROVIDERS[provider][0]
    spec: dict[str, Any] = {"type": provider, "address": address}
    if provider == "cloudwatch":
        spec["region"] = servers.AWS_REGION
    if secret is not None:
        secret = {key: _fill(value, address) for key, value in secret.items()}
        await resources.apply(api, opaque_secret(f"{provider}-credentials", namespace, secret))
        spec["secretRef"] = {"name": f"{provider}-credentials"}
    template = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "MetricTemplate",
        "metadata": {"name": provider, "namespace": namespace},
        "spec": {"provider": spec, "query": query},
    }
    await apply_with_crds(api, template)
    return await check_results(api, pool, _canary(namespace, provider, cases))


def _fill(value: str, address: str) -> str:
    """Secret values that depend on the server: service account keys naming its /token."""
    if value == "@KEY@":
        return servers.service_account_key(f"{address}/token")
    if value == "@OTHER_KEY@":
        return servers.service_account_key(f"{address}/token", servers.GCP_OTHER_KEY)
    return value


def _no_secret_in(texts: list[str]) -> None:
    for text in texts:
        for value in SECRET_VALUES:
            assert value not in text, f"a credential shows in {text!r}"
        assert "PRIVATE KEY" not in text


@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_each_answer_gives_its_verdict_and_reason(
    api: ApiClient,
    namespace: str,
    pool: PrometheusPool,
    provider: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with servers.serve(provider) as server:
        results = await _checks(
            api,
            namespace,
            pool,
            provider,
            server.url,
            secret=PROVIDERS[provider][1],
            cases=tuple(EXPECTED),
        )
    for case, (verdict, value, words) in EXPECTED.items():
        result = results[case]
        assert (result.verdict, result.value) == (verdict, value), (case, result.message)
        assert words in result.message, (case, result.message)
    # The server got every query, each with the Secret's credentials.
    assert sorted(seen.case for seen in server.seen) == sorted(EXPECTED)
    assert all(seen.credentials for seen in server.seen)
    _no_secret_in([result.message for result in results.values()] + [caplog.text])


@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_wrong_credentials_are_refused_saying_so(
    api: ApiClient,
    namespace: str,
    pool: PrometheusPool,
    provider: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with servers.serve(provider) as server:
        results = await _checks(
            api,
            namespace,
            pool,
            provider,
            server.url,
            secret=PROVIDERS[provider][2],
            cases=("pass",),
        )
    result = results["pass"]
    assert (result.verdict, result.value) == (Verdict.FAIL, None)
    assert "refused the credentials (HTTP 40" in result.message, result.message
    assert "check spec.provider.secretRef" in result.message
    # Cloud Monitoring is never asked: Google's token endpoint refused the key first.
    assert len(server.seen) == (0 if provider == "stackdriver" else 1)
    _no_secret_in([result.message, caplog.text])


@pytest.mark.parametrize("provider", list(PROVIDERS))
async def test_a_secret_without_a_needed_key_fails_naming_it(
    api: ApiClient, namespace: str, pool: PrometheusPool, provider: str
) -> None:
    right = dict(PROVIDERS[provider][1])
    missing = REQUIRED.get(provider, sorted(right)[-1])
    del right[missing]
    async with servers.serve(provider) as server:
        results = await _checks(
            api, namespace, pool, provider, server.url, secret=right, cases=("pass",)
        )
    result = results["pass"]
    assert result.verdict is Verdict.FAIL
    assert result.message == (
        f"pass: MetricTemplate {namespace}/{provider}: Secret {namespace}/{provider}-credentials"
        f" (spec.provider.secretRef) has no key {missing!r}, which provider {provider} needs"
    )
    assert server.seen == []  # nothing was sent without its credentials


async def test_graphite_without_a_secret_asks_without_credentials(
    api: ApiClient, namespace: str, pool: PrometheusPool
) -> None:
    """Graphite's credentials are optional (Flagger's): this server wants them, and says so."""
    async with servers.serve("graphite") as server:
        results = await _checks(
            api, namespace, pool, "graphite", server.url, secret=None, cases=("pass",)
        )
    assert "Graphite at http://127.0.0.1:" in results["pass"].message
    assert "refused the credentials (HTTP 401 Unauthorized" in results["pass"].message
    assert [seen.credentials for seen in server.seen] == [None]


@pytest.mark.parametrize("provider", ["datadog", "newrelic", "dynatrace", "splunk", "stackdriver"])
async def test_hosted_services_without_a_secret_are_refused_at_admission(
    api: ApiClient, namespace: str, provider: str
) -> None:
    template = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "MetricTemplate",
        "metadata": {"name": provider, "namespace": namespace},
        "spec": {
            "provider": {"type": provider, "address": "https://api.example.com"},
            "query": "q",
        },
    }
    # apply_with_crds installs this checkout's CRDs first: the sandbox is shared.
    await apply_with_crds(
        api,
        {
            **template,
            "metadata": {"name": "probe", "namespace": namespace},
            "spec": {"provider": {"type": "prometheus"}, "query": "q"},
        },
    )
    with pytest.raises(Invalid) as refused:
        await resources.apply(api, template)
    assert SECRET_NEEDED_RULE.message in str(refused.value)
