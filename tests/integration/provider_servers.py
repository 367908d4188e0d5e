"""Test servers on 127.0.0.1 speaking the documented HTTP APIs of the hosted metrics providers.

Each one checks the request as the provider's API documents it (path, method, parameters,
authentication header or basic auth) and answers in the provider's format. What it answers
depends on a case word found in the query: `pass` (0.5), `fail` (7), `nodata`, `several` (two
series), `nan`, `error` (the provider's error document with HTTP 400) and `throttle` (HTTP 429
with Retry-After). Wrong or missing credentials get the provider's 401/403 answer. Every request
is recorded (with the credentials it carried) so a test can tell that authentication was used.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from canary.metrics.providers.sigv4 import AwsCredentials, sign
from tests.integration.local_http import serving

PASS_VALUE = 0.5
FAIL_VALUE = 7.0
CASES = ("pass", "fail", "nodata", "several", "nan", "error", "throttle")
_CASE = re.compile(r"\b(" + "|".join(CASES) + r")\b")

# The credentials each server accepts.
GRAPHITE_USER, GRAPHITE_PASSWORD = "graphite-reader", "gr-Pa55-word"
INFLUX_TOKEN, INFLUX_ORG = "influx-t0ken-value", "shop-org"
DATADOG_API_KEY, DATADOG_APP_KEY = "dd-api-key-0123", "dd-app-key-4567"
NEWRELIC_ACCOUNT, NEWRELIC_QUERY_KEY = "1234567", "NRIQ-query-key-89"
DYNATRACE_TOKEN = "dt0c01.token-value"  # noqa: S105 - the test server's own token
AWS_KEY_ID, AWS_SECRET_KEY = "AKIDCANARYTEST", "aws-secret-access-key-value"
AWS_REGION = "eu-west-1"
SPLUNK_TOKEN = "sf-token-value-0123"  # noqa: S105 - the test server's own token
GCP_PROJECT, GCP_EMAIL = "shop-prod", "canary@shop-prod.iam.gserviceaccount.com"
GCP_ACCESS_TOKEN = "ya29.access-token-value"  # noqa: S105 - the test server's own token
GCP_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
GCP_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_key(token_uri: str, key: rsa.RSAPrivateKey = GCP_KEY) -> str:
    """A service account JSON key as Google issues it, whose token endpoint is `token_uri`."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": GCP_PROJECT,
            "private_key_id": "0123abcd",
            "private_key": pem,
            "client_email": GCP_EMAIL,
            "token_uri": token_uri,
        }
    )


@dataclass
class Seen:
    """One request a server got: its case word, query parameters and the credentials sent."""

    case: str
    params: dict[str, str]
    credentials: str | None


@dataclass
class ProviderServer:
    """A running test server: its base URL and the requests it saw."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)


Handler = Callable[[web.Request, ProviderServer], Awaitable[web.StreamResponse]]


def _case(query: str) -> str:
    match = _CASE.search(query)
    if match is None:
        raise web.HTTPBadRequest(text=f"no case word in {query!r}")
    return match.group(1)


def _json(document: Any, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        text=json.dumps(document), status=status, content_type="application/json", headers=headers
    )


def _throttled(document: Any) -> web.Response:
    return _json(document, 429, **{"Retry-After": "30"})


async def graphite(request: web.Request, server: ProviderServer) -> web.StreamResponse:
    """graphite-web's render API (behind a basic-auth proxy, as it is deployed)."""
    if request.path != "/render" or request.query.get("format") != "json":
        raise web.HTTPNotFound
    expected = base64.b64encode(f"{GRAPHITE_USER}:{GRAPHITE_PASSWORD}".encode()).decode()
    sent = request.headers.get("Authorization")
    server.seen.append(Seen(_case(request.query["target"]), dict(request.query), sent))
    if sent != f"Basic {expected}":
        return web.Response(status=401, text="401 Authorization Required")
    case = server.seen[-1].case
    target = request.query["target"]
    points = {
        "pass": [[None, 1], [0.25, 2], [PASS_VALUE, 3], [None, 4]],
        "fail": [[FAIL_VALUE, 3]],
        "nodata": [[None, 1], [None, 2]],
        "nan": [["nan", 1]],
    }
    if case == "several":
        return _json(
            [{"target": "a", "datapoints": [[1, 1]]}, {"target": "b", "datapoints": [[2, 1]]}]
        )
    if case == "error":
        return web.Response(status=400, text="Invalid target: unknown function 'sumSerie'")
    if case == "throttle":
        return web.Response(status=429, text="Too Many Requests", headers={"Retry-After": "30"})
    if case == "nodata":
        return _json([])
    return _json([{"target": target, "tags": {}, "datapoints": points[case]}])


def _influx_csv(value: str, datatype: str = "double") -> str:
    return (
        f"#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,{datatype}\r\n"
        "#group,false,false,true,true,false\r\n"
        "#default,_result,,,,\r\n"
        ",result,table,_start,_stop,_value\r\n"
        f",,0,2026-01-01T00:00:00Z,2026-01-01T00:01:00Z,{value}\r\n"
    )


async def influxdb(request: web.Request, server: ProviderServer) -> web.StreamResponse:
    """InfluxDB 2.x's `/api/v2/query`: Flux in a JSON body, annotated CSV out."""
    if request.path != "/api/v2/query" or request.method != "POST":
        raise web.HTTPNotFound
    body = await request.json()
    if body.get("type") != "flux" or not body["dialect"]["header"]:
        raise web.HTTPBadRequest(text="expected a flux query with a header")
    sent = request.headers.get("Authorization")
    server.seen.append(Seen(_case(body["query"]), dict(request.query), sent))
    if sent != f"Token {INFLUX_TOKEN}":
        return _json({"code": "unauthorized", "message": "unauthorized access"}, 401)
    if request.query.get("org") != INFLUX_ORG:
        return _json({"code": "not found", "message": "organization name not found"}, 404)
    case = server.seen[-1].case
    csv_text = {
        "pass": _influx_csv(str(PASS_VALUE)),
        "fail": _influx_csv(str(FAIL_VALUE)),
        "nodata": "\r\n",
        "nan": _influx_csv("NaN"),
        "several": _influx_csv("1") + _influx_csv("2").split("\r\n", 4)[4],
    }
    if case == "error":
        return _json({"code": "invalid", "message": "compilation failed: error at @1:1-1:5"}, 400)
    if case == "throttle":
        return _throttled({"code": "too many requests", "message": "query quota exceeded"})
    return web.Response(text=csv_text[case], content_type="text/csv")


async def datadog(request: web.Request, server: ProviderServer) -> web.StreamResponse:
    """Datadog's `GET /api/v1/query` (timeseries points)."""
    if request.path != "/api/v1/query":
        raise web.HTTPNotFound
    window = int(request.query["to"]) - int(request.query["from"])
    sent = f"{request.headers.get('DD-API-KEY')}/{request.headers.get('DD-APPLICATION-KEY')}"
    server.seen.append(Seen(_case(request.query["query"]), dict(request.query), sent))
    if sent != f"{DATADOG_API_KEY}/{DATADOG_APP_KEY}":
        return _json({"errors": ["Forbidden"]}, 403)
    case = server.seen[-1].case
    if window <= 0:
        return _json({"errors": ["from must be before to"]}, 400)
    series = {
        "pass": [
            {
                "scope": "case:pass",
                "pointlist": [[1000.0, None], [2000.0, PASS_VALUE], [3000.0, 9.0]],
            }
        ],
        "fail": [{"scope": "case:fail", "pointlist": [[1000.0, FAIL_VALUE]]}],
        "nodata": [],
        "nan": [{"scope": "case:nan", "pointlist": [[1000.0, None]]}],
        "several": [
            {"scope": "pod:a", "pointlist": [[1000.0, 1.0]]},
            {"scope": "pod:b", "pointlist": [[1000.0, 2.0]]},
        ],
    }
    if case == "error":
        return _json(
            {"errors": ["Error parsing query: unable to parse sum:requests{: Rule 'scope_expr'"]},
            400,
        )
    if case == "throttle":
        return _throttled({"errors": ["Rate limit of 1600 requests in 3600 seconds reached."]})
    return _json({"status": "ok", "res_type": "time_series", "series": series[case]})


async def newrelic(request: web.Request, server: ProviderServer) -> web.StreamResponse:
    """New Relic's Insights query API, `GET /v1/accounts/{id}/query?nrql=...`."""
    if request.path != f"/v1/accounts/{NEWRELIC_ACCOUNT}/query":
        return _json({"error": "Account not found"}, 404)
    nrql = request.query["nrql"]
    sent = request.headers.get("X-Query-Key")
    server.seen.append(Seen(_case(nrql), dict(request.query), sent))
    if sent != NEWRELIC_QUERY_KEY:
        return _json({"error": "Invalid query key"}, 403)
    if not re.search(r" SINCE \d+ seconds ago$", nrql):
        return _json({"error": "expected a SINCE clause"}, 400)
    case = server.seen[-1].case
    results = {
        "pass": [{"result": PASS_VALUE}],
        "fail": [{"result": FAIL_VALUE}],
        "nodata": [{"result": None}],
        "nan": [{"result": "NaN"}],
        "several": [{"result": 1}, {"result": 2}],
    }
    if case == "error":
        return _json({"error": "NRQL Syntax Error: Error at line 1 position 8"}, 400)
    if case == "throttle":
        return _throttled({"error": "Rate limit exceeded"})
    return _json({"results": results[case], "metadata": {}})


async def dynatrace(request: web.Request, server: ProviderServer) -> web.StreamResponse:
    """Dynatrace's Metrics API v2, `GET /api/v2/metrics/query`."""
    if request.path != "/api/v2/metrics/query" or request.query.get("resolution") != "Inf":
        raise web.HTTPNotFound
    sent = request.headers.get("Authorization")
    server.seen.append(Seen(_case(request.query["metricSelector"]), dict(request.query), sent))
    if sent != f"Api-Token {DYNATRACE_TOKEN}":
        return _json({"error": {"code": 401, "message": "Token Authentication failed"}}, 401)
    case = server.seen[-1].case

    def result(*values: list[float | None]) -> dict[str, Any]:
        data = [{"dimensions": [], "timestamps": [1], "values": v} for v in values]
        return {"totalCount": 1, "result": [{"metricId": "m", "data": data}]}

    answers = {
        "pass": result([None, PASS_VALUE]),
        "fail": result([FAIL_VALUE]),
        "nodata": {"totalCount": 1, "result": [{"metricId": "m", "data": []}]},
        "nan": result([None]),
        "several": result([1.0], [2.0]),
    }
    if case == "error":
        return _json({"error": {"code": 400, "message": "Invalid metric selector"}}, 400)
    if case == "throttle":
        return _throttled({"error": {"code": 429, "message": "Too Many Requests"}})
    return _json(answers[case])


def _aws_error(code: str, message: str, status: int = 400) -> web.Response:
    return _json({"__type": code, "message": message}, status)


def _aws_refusal(request: web.Request, payload: bytes) -> web.Response | None:
    """AWS's answer to a request not signed with the test key, or None when it is."""
    sent = request.headers.get("Authorization", "")
    if f"Credential={AWS_KEY_ID}/" not in sent or f"/{AWS_REGION}/monitoring/" not in sent:
        return _aws_error(
            "com.amazon.coral.service#UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    signed_names = sent.partition("SignedHeaders=")[2].partition(",")[0].split(";")
    headers = {
        name: request.headers[name] for name in signed_names if name not in {"host", "x-amz-date"}
    }
    when = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    expected = sign(
        method="POST",
        host=request.host,
        path=request.path,
        query={},
        headers=headers,
        payload=payload,
        credentials=AwsCredentials(AWS_KEY_ID, AWS_SECRET_KEY),
        region=AWS_REGION,
        service="monitoring",
        now=when,
    )["Authorization"]
    if sent != expected:
        return _aws_error(
            "com.amazon.coral.service#InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return None


async def cloudwatch(request: web.Request, server: ProviderServer) -> web.StreamResponse:
    """CloudWatch's GetMetricData over the AWS JSON 1.0 protocol, with SigV4 verified."""
    target = request.headers.get("X-Amz-Target")
    if target != "GraniteServiceVersion20100801.GetMetricData" or (
        request.content_type != "application/x-amz-json-1.0"
    ):
        return _aws_error("UnknownOperationException", "unknown operation or content type")
    payload = await request.read()
    body = json.loads(payload)
    sent = request.headers.get("Authorization")
    server.seen.append(Seen(_case(json.dumps(body["MetricDataQueries"])), {}, sent))
    if (refusal := _aws_refusal(request, payload)) is not None:
        return refusal
    if not body["StartTime"] < body["EndTime"] or body["MaxDatapoints"] != 20:
        return _aws_error("InvalidParameterCombination", "bad time range")
    case = server.seen[-1].case

    def result(query_id: str, *values: float) -> dict[str, Any]:
        return {
            "Id": query_id,
            "Label": case,
            "StatusCode": "Complete",
            "Values": list(values),
            "Timestamps": [1_700_000_000 - 60 * i for i in range(len(values))],
        }

    answers = {
        "pass": [result("e1", PASS_VALUE, 9.0)],
        "fail": [result("e1", FAIL_VALUE)],
        "nodata": [result("e1")],
        "nan": [result("e1", float("nan"))],
        "several": [result("e1", 1.0), result("e2", 2.0)],
    }
    if case == "error":
        return _aws_error(
            "com.amazonaws.cloudwatch#InvalidParameterValueException",
            "The value @ for parameter MetricDataQueries.member.1.Expression is invalid.",
        )
    if case == "throttle":
        return _aws_error("Throttling", "Rate exceeded")
    return _json({"MetricDataResults": answers[case], "Messages": []})


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def _google_token(request: web.Request) -> web.Response:
    """Google's OAuth token endpoint: a JWT bearer grant signed with the service account key."""
    form = await request.post()
    if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
        return _json({"error": "unsupported_grant_type"}, 400)
    header, claims, signature = str(form.get("assertion", "")).split(".")
    try:
        GCP_KEY.public_key().verify(
            _unb64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        return _json({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)
    fields = json.loads(_unb64(claims))
    if (fields["iss"], fields["aud"]) != (GCP_EMAIL, str(request.url)) or "monitoring" not in (
        fields["scope"]
    ):
        return _json({"error": "invalid_grant", "error_description": "bad claims"}, 400)
    return _json({"access_token": GCP_ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"})


async def stackdriver(request: web.Request, server: ProviderServer) -> web.StreamResponse:
    """Cloud Monitoring's `timeSeries:query` (MQL), and Google's token endpoint at /token."""
    if request.path == "/token":
        return await _google_token(request)
    if request.path != f"/v3/projects/{GCP_PROJECT}/timeSeries:query":
        return _json({"error": {"code": 404, "message": "project not found"}}, 404)
    body = await request.json()
    sent = request.headers.get("Authorization")
    server.seen.append(Seen(_case(body["query"]), {}, sent))
    if sent != f"Bearer {GCP_ACCESS_TOKEN}":
        return _json({"error": {"code": 401, "message": "Request had invalid authentication"}}, 401)
    case = server.seen[-1].case

    def series(*values: float) -> dict[str, Any]:
        points = [{"values": [{"doubleValue": v}], "timeInterval": {}} for v in values]
        return {"labelValues": [{"stringValue": case}], "pointData": points}

    answers = {
        "pass": {"timeSeriesData": [series(PASS_VALUE, 9.0)]},
        "fail": {"timeSeriesData": [series(FAIL_VALUE)]},
        "nodata": {},
        "nan": {"timeSeriesData": [{"pointData": [{"values": [{"doubleValue": "NaN"}]}]}]},
        "several": {"timeSeriesData": [series(1.0), series(2.0)]},
    }
    if case == "error":
        error = {
            "code": 400,
            "message": "Query failed: unknown table",
            "status": "INVALID_ARGUMENT",
        }
        return _json({"error": error}, 400)
    if case == "throttle":
        error = {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}
        return _throttled({"error": error})
    return _json({"timeSeriesDescriptor": {}, **answers[case]})


def _sse(*messages: tuple[str, dict[str, Any]]) -> str:
    return "".join(f"event: {name}\ndata: {json.dumps(body)}\n\n" for name, body in messages)


async def splunk(request: web.Request, server: ProviderServer) -> web.StreamResponse:
    """SignalFlow's `POST /v2/signalflow/execute`: a program in, server-sent events out. The
    connection stays open after END_OF_CHANNEL, as a stream may: the client must stop there."""
    if request.path != "/v2/signalflow/execute" or request.query.get("immediate") != "true":
        return _json({"message": "not found", "errorType": "NOT_FOUND"}, 404)
    program = await request.text()
    sent = request.headers.get("X-SF-Token")
    server.seen.append(Seen(_case(program), dict(request.query), sent))
    if sent != SPLUNK_TOKEN:
        return _json({"message": "Unauthorized", "errorType": "UNAUTHORIZED"}, 401)
    if not int(request.query["start"]) < int(request.query["stop"]):
        return _json({"message": "bad range", "errorType": "BAD_REQUEST"}, 400)
    case = server.seen[-1].case
    start = ("control-message", {"event": "STREAM_START", "timestampMs": 1})
    job = ("control-message", {"event": "JOB_START", "timestampMs": 1, "handle": "H"})
    end = ("control-message", {"event": "END_OF_CHANNEL", "timestampMs": 3})

    def data(*points: tuple[str, float | str | None]) -> tuple[str, dict[str, Any]]:
        values = [{"tsId": tsid, "value": value} for tsid, value in points]
        return ("data", {"logicalTimestampMs": 2, "data": values})

    meta = ("metadata", {"tsId": "AAA", "properties": {"sf_metric": "errors"}})
    answers: dict[str, list[tuple[str, dict[str, Any]]]] = {
        "pass": [
            start,
            job,
            meta,
            data(("AAA", 0.25)),
            data(("AAA", None)),
            data(("AAA", PASS_VALUE)),
            end,
        ],
        "fail": [start, job, meta, data(("AAA", FAIL_VALUE)), end],
        "nodata": [start, job, end],
        "nan": [start, job, data(("AAA", "NaN")), end],
        "several": [start, job, data(("AAA", 1.0), ("BBB", 2.0)), end],
        "error": [
            start,
            ("error", {"errors": [{"code": "ANALYTICS_PROGRAM_NAME_ERROR", "context": {}}]}),
        ],
    }
    if case == "throttle":
        return _throttled({"message": "Too many requests", "errorType": "TOO_MANY_REQUESTS"})
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_sse(*answers[case]).encode())
    if case != "error":
        await asyncio.sleep(3600)  # held open after the channel's end: the client stops reading
    return response


HANDLERS: dict[str, Handler] = {
    "graphite": graphite,
    "influxdb": influxdb,
    "datadog": datadog,
    "newrelic": newrelic,
    "dynatrace": dynatrace,
    "cloudwatch": cloudwatch,
    "stackdriver": stackdriver,
    "splunk": splunk,
}


@asynccontextmanager
async def serve(provider: str) -> AsyncIterator[ProviderServer]:
    """Run `provider`'s test server on a free port of 127.0.0.1."""
    server = ProviderServer()
    handler = HANDLERS[provider]

    async def handle(request: web.Request) -> web.StreamResponse:
        return await handler(request, server)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serving(app) as url:
        server.url = url
        yield server
