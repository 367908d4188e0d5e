"""The Prometheus client and run_check against real servers on 127.0.0.1.

(a) the sandbox's real Prometheus, for every class of answer a query can get; (b) a port with
nothing listening; (c) a small aiohttp server started here that misbehaves on purpose (garbage,
503, errors carried with HTTP 200, oversized bodies, a reply that never comes).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from canary.core.model import Verdict
from canary.metrics import (
    CanaryContext,
    Credentials,
    FailureKind,
    MetricError,
    MetricSpec,
    PrometheusClient,
    evaluate,
    run_check,
)
from canary.metrics.prometheus import MAX_RESPONSE_BYTES
from canary.sandbox.state import SandboxState
from tests.integration.local_http import free_port, serving

pytestmark = pytest.mark.integration

SEVERAL = 'label_replace(vector(1),"a","x","","") or label_replace(vector(2),"a","y","","")'


@pytest.fixture
async def prometheus(sandbox: SandboxState) -> AsyncIterator[PrometheusClient]:
    async with PrometheusClient(sandbox.prometheus_url, timeout=5) as client:
        yield client


async def _failure(client: PrometheusClient, promql: str) -> MetricError:
    with pytest.raises(MetricError) as caught:
        await client.query(promql)
    return caught.value


# (a) The sandbox's real Prometheus.


async def test_one_finite_value_is_returned(prometheus: PrometheusClient) -> None:
    assert await prometheus.query("vector(1)") == 1.0
    assert await prometheus.query("scalar(vector(2.5))") == 2.5
    assert await prometheus.is_online()


@pytest.mark.parametrize(
    ("promql", "kind", "message"),
    [
        (
            "vector(0)/0",
            FailureKind.NAN,
            "NaN: the query returned NaN (often 0/0: no requests in the interval)",
        ),
        (
            "1/0",
            FailureKind.INFINITE,
            "+Inf: the query returned an infinite value (division by 0?)",
        ),
        (
            "-1/0",
            FailureKind.INFINITE,
            "-Inf: the query returned an infinite value (division by 0?)",
        ),
        ('up{job="nope"}', FailureKind.NO_DATA, "no data: the query returned no series"),
        (
            SEVERAL,
            FailureKind.SEVERAL_SERIES,
            '2 series; the query must aggregate to one: {a="x"}, {a="y"}',
        ),
        (
            "vector(1)[1m:10s]",
            FailureKind.UNSUPPORTED_RESULT,
            "matrix result (a range vector); the query must return an instant vector or a scalar",
        ),
        (
            '"text"',
            FailureKind.UNSUPPORTED_RESULT,
            "string result; the query must return an instant vector or a scalar",
        ),
        (
            "sum(",
            FailureKind.QUERY_ERROR,
            (
                'query error: bad_data: invalid parameter "query": 1:5: parse error: unclosed left'
                " parenthesis (HTTP 400)"
            ),
        ),
    ],
)
async def test_every_answer_without_one_number_has_its_reason(
    prometheus: PrometheusClient, promql: str, kind: FailureKind, message: str
) -> None:
    failure = await _failure(prometheus, promql)
    assert (failure.kind, failure.message) == (kind, message)


async def test_an_overlong_query_is_refused_before_sending(prometheus: PrometheusClient) -> None:
    failure = await _failure(prometheus, "vector(1)" + " " * 5000)
    assert failure.kind is FailureKind.QUERY_TOO_LONG
    assert failure.message == "the query is 5009 bytes long; the limit is 4096"


async def test_a_builtin_check_without_traffic_fails_with_no_data(
    prometheus: PrometheusClient,
) -> None:
    namespace = f"nowhere-{uuid.uuid4().hex[:8]}"
    context = CanaryContext(name="podinfo", namespace=namespace, target="podinfo")
    outcome = await evaluate(
        MetricSpec(name="request-success-rate", min=99), context=context, client=prometheus
    )
    assert outcome.failure is FailureKind.NO_DATA
    assert outcome.result.verdict is Verdict.FAIL
    assert outcome.result.value is None
    assert outcome.result.message == (
        "request-success-rate: no data: the query returned no series; probably no traffic"
        f" reached podinfo in namespace {namespace}"
    )


@pytest.mark.parametrize(
    ("metric", "verdict", "value", "message"),
    [
        (
            MetricSpec(
                name="templated",
                template_query="vector({{ variables.level }}) * 10",
                template_variables={"level": "9.95"},
                min=99,
                max=100,
            ),
            Verdict.PASS,
            99.5,
            "templated 99.50 within [99, 100]",
        ),
        (
            MetricSpec(name="inline", query="vector(87.5)", min=99),
            Verdict.FAIL,
            87.5,
            "inline 87.50 < 99 (min)",
        ),
        (
            MetricSpec(name="latency", template_query="vector(612)", max=500),
            Verdict.FAIL,
            612.0,
            "latency 612.00 > 500 (max)",
        ),
        (
            MetricSpec(name="ratio", template_query="vector(0)/0", max=1),
            Verdict.FAIL,
            None,
            "ratio: NaN: the query returned NaN (often 0/0: no requests in the interval)",
        ),
        (
            MetricSpec(name="per-job", template_query=SEVERAL, max=1),
            Verdict.FAIL,
            None,
            'per-job: 2 series; the query must aggregate to one: {a="x"}, {a="y"}',
        ),
    ],
)
async def test_run_check_judges_real_answers(
    prometheus: PrometheusClient,
    metric: MetricSpec,
    verdict: Verdict,
    value: float | None,
    message: str,
) -> None:
    context = CanaryContext(name="podinfo", namespace="default", target="podinfo")
    result = await run_check(metric, context=context, client=prometheus)
    assert (result.verdict, result.value, result.message) == (verdict, value, message)


# (b) Nothing listening.


async def test_an_unreachable_prometheus_is_named_by_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with PrometheusClient(url, timeout=5) as client:
        failure = await _failure(client, "vector(1)")
        assert not await client.is_online()
    assert failure.kind is FailureKind.UNREACHABLE
    assert failure.message == f"Prometheus unreachable at {url}: connection refused"


async def test_credentials_in_the_url_never_reach_a_message() -> None:
    port = free_port()
    async with PrometheusClient(f"http://admin:s3cret@127.0.0.1:{port}", timeout=5) as client:
        failure = await _failure(client, "vector(1)")
    assert failure.message == (
        f"Prometheus unreachable at http://admin:***@127.0.0.1:{port}: connection refused"
    )


async def test_run_check_fails_closed_when_prometheus_is_down() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    context = CanaryContext(name="podinfo", namespace="default", target="podinfo")
    async with PrometheusClient(url, timeout=5) as client:
        result = await run_check(
            MetricSpec(name="request-duration", max=500), context=context, client=client
        )
    assert (result.verdict, result.value) == (Verdict.FAIL, None)
    assert (
        result.message == f"request-duration: Prometheus unreachable at {url}: connection refused"
    )


# (c) A misbehaving HTTP server.


@dataclass
class FakeServer:
    base: str
    release: asyncio.Event
    hung: asyncio.Event


def _json(body: object, *, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


@pytest.fixture
async def fake_server() -> AsyncIterator[FakeServer]:
    release = asyncio.Event()
    hung = asyncio.Event()

    async def garbage(_: web.Request) -> web.Response:
        return web.Response(text="<html><body>Welcome to nginx</body></html>")

    async def unavailable(_: web.Request) -> web.Response:
        return web.Response(status=503, text="upstream connect error")

    async def prometheus_timeout(_: web.Request) -> web.Response:
        error = {"status": "error", "errorType": "timeout", "error": "query timed out"}
        return _json(error, status=503)

    async def execution_error(_: web.Request) -> web.Response:
        error = {"status": "error", "errorType": "execution", "error": "many-to-many matching"}
        return _json(error, status=422)

    async def error_with_200(_: web.Request) -> web.Response:
        return _json({"status": "error", "errorType": "execution", "error": "boom"})

    async def not_prometheus(_: web.Request) -> web.Response:
        return _json({"hello": "world"})

    async def empty(_: web.Request) -> web.Response:
        return web.Response(status=200, body=b"")

    async def too_large(_: web.Request) -> web.Response:
        return web.Response(body=b" " * (MAX_RESPONSE_BYTES + 1), content_type="application/json")

    async def authenticated(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer t0ken":
            return _json(
                {"status": "error", "errorType": "unauthorized", "error": "no"}, status=401
            )
        sample = {"metric": {}, "value": [0, str(request.query["timeout"])]}
        return _json({"status": "success", "data": {"resultType": "vector", "result": [sample]}})

    async def hang(_: web.Request) -> web.Response:
        hung.set()
        await release.wait()
        return web.Response(status=504, text="released")

    app = web.Application()
    for name, handler in {
        "garbage": garbage,
        "unavailable": unavailable,
        "prometheus-timeout": prometheus_timeout,
        "execution": execution_error,
        "error-200": error_with_200,
        "not-prometheus": not_prometheus,
        "empty": empty,
        "too-large": too_large,
        "auth": authenticated,
        "hang": hang,
    }.items():
        app.router.add_get(f"/{name}/api/v1/query", handler)
    async with serving(app) as url:
        try:
            yield FakeServer(base=url, release=release, hung=hung)
        finally:
            release.set()


@pytest.mark.parametrize(
    ("path", "kind", "message"),
    [
        (
            "garbage",
            FailureKind.BAD_RESPONSE,
            (
                "bad response from Prometheus at {url}: not JSON (HTTP 200):"
                " '<html><body>Welcome to nginx</body></html>'"
            ),
        ),
        (
            "unavailable",
            FailureKind.HTTP_ERROR,
            "HTTP 503 Service Unavailable from Prometheus at {url}: 'upstream connect error'",
        ),
        (
            "prometheus-timeout",
            FailureKind.HTTP_ERROR,
            "HTTP 503 Service Unavailable from Prometheus at {url}: timeout: query timed out",
        ),
        (
            "execution",
            FailureKind.QUERY_ERROR,
            "query error: execution: many-to-many matching (HTTP 422)",
        ),
        ("error-200", FailureKind.QUERY_ERROR, "query error: execution: boom (HTTP 200)"),
        (
            "not-prometheus",
            FailureKind.BAD_RESPONSE,
            (
                'bad response from Prometheus at {url}: JSON without status "success" and'
                """ data.result: '{"hello": "world"}'"""
            ),
        ),
        (
            "empty",
            FailureKind.BAD_RESPONSE,
            "bad response from Prometheus at {url}: not JSON (HTTP 200): ''",
        ),
        (
            "too-large",
            FailureKind.RESPONSE_TOO_LARGE,
            (
                f"response from Prometheus at {{url}} is {MAX_RESPONSE_BYTES + 1} bytes;"
                f" the limit is {MAX_RESPONSE_BYTES}"
            ),
        ),
        (
            "auth",
            FailureKind.HTTP_ERROR,
            "HTTP 401 Unauthorized from Prometheus at {url}: unauthorized: no",
        ),
    ],
)
async def test_a_misbehaving_server_gets_a_precise_reason(
    fake_server: FakeServer, path: str, kind: FailureKind, message: str
) -> None:
    url = f"{fake_server.base}/{path}"
    async with PrometheusClient(url, timeout=5) as client:
        failure = await _failure(client, "vector(1)")
    assert (failure.kind, failure.message) == (kind, message.replace("{url}", url))


async def test_a_bearer_token_and_the_query_timeout_are_sent(fake_server: FakeServer) -> None:
    credentials = Credentials(bearer_token="t0ken")  # noqa: S106 - a test double's token
    url = f"{fake_server.base}/auth"
    async with PrometheusClient(url, timeout=7, credentials=credentials) as client:
        # The fake answers with the `timeout` parameter it received: Prometheus' own deadline.
        assert await client.query("vector(1)") == 7.0
    assert "t0ken" not in repr(credentials)


async def test_a_server_that_never_answers_times_out(fake_server: FakeServer) -> None:
    url = f"{fake_server.base}/hang"
    loop = asyncio.get_running_loop()
    async with PrometheusClient(url, timeout=0.5) as client:
        started = loop.time()
        failure = await _failure(client, "vector(1)")
        elapsed = loop.time() - started
    # The fake server runs on this event loop: that it saw the request proves the query did not
    # block the loop.
    assert fake_server.hung.is_set()
    assert failure.kind is FailureKind.TIMEOUT
    assert failure.message == f"Prometheus at {url} sent no complete answer within 0.5 s"
    assert elapsed < 3.0


async def test_run_check_fails_closed_on_a_timeout(fake_server: FakeServer) -> None:
    async with PrometheusClient(f"{fake_server.base}/hang", timeout=0.5) as client:
        outcome = await evaluate(
            MetricSpec(name="m", template_query="vector(1)", max=1),
            context=CanaryContext(name="c", namespace="n", target="t"),
            client=client,
        )
    assert outcome.failure is FailureKind.TIMEOUT
    assert (outcome.result.verdict, outcome.result.value) == (Verdict.FAIL, None)
    assert outcome.result.message.startswith("m: Prometheus at http://127.0.0.1:")
