"""The dashboard's server against the sandbox's real API server: what it lists and shows is
what the API holds; actions write the annotations of `canary promote|abort|...`; rights are the
caller's (a read-only ServiceAccount sees but is refused actions with Kubernetes' message); no
token is 401; a forged CSRF token is 403; the live list follows a watch."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from kubernetes_asyncio.client import ApiClient

from canary.dashboard.access import KubeconfigAccess, TokenAccess
from canary.kube import resources
from canary.kube.resources import CANARY
from canary.sandbox.state import SandboxState
from tests.dashboard.fixtures import READ, canary_with_status, served, service_account_token
from tests.e2e.harness import canary
from tests.integration.crds import apply_with_crds

pytestmark = pytest.mark.integration

JSON_ACCEPT = {"Accept": "application/json"}
PROGRESSING = {
    "phase": "Progressing",
    "canaryWeight": 30,
    "failedChecks": 1,
    "lastAppliedSpec": "abc123",
    "lastTransitionTime": "2026-01-02T03:04:05Z",
    "checks": [
        {"name": "request-success-rate", "value": 98.5, "verdict": "Fail", "min": 99,
         "message": "below 99", "time": "2026-01-02T03:04:05Z"},
    ],
    "conditions": [
        {"type": "Ready", "status": "Unknown", "reason": "Progressing",
         "message": "<script>alert(1)</script>", "lastTransitionTime": "2026-01-02T03:04:05Z"},
    ],
}  # fmt: skip

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def local(api: ApiClient) -> AsyncIterator[Client]:
    async with served(KubeconfigAccess(api, user="tester")) as client:
        yield client


async def _json(client: Client, path: str, **headers: str) -> tuple[int, Any]:
    async with client.get(path, headers={**JSON_ACCEPT, **headers}) as answer:
        return answer.status, await answer.json()


async def _act(client: Client, path: str, *, csrf: str, **headers: str) -> tuple[int, Any]:
    sent = {**JSON_ACCEPT, "X-CSRF-Token": csrf, **headers}
    async with client.post(path, headers=sent) as answer:
        return answer.status, await answer.json(content_type=None)


async def _annotations(api: ApiClient, name: str, namespace: str) -> dict[str, str]:
    found = await resources.get(api, CANARY, name, namespace=namespace)
    assert found is not None
    return dict((found.get("metadata") or {}).get("annotations") or {})


async def test_list_and_detail_match_the_api(api: ApiClient, namespace: str, local: Client) -> None:
    await canary_with_status(api, "alpha", namespace=namespace, status=PROGRESSING)
    await canary_with_status(api, "beta", namespace=namespace, status={"phase": "Succeeded"})

    status, page = await _json(local, f"/?namespace={namespace}")
    assert status == 200
    assert [(row["name"], row["phase"], row["weight"]) for row in page["canaries"]] == [
        ("alpha", "Progressing", 30),
        ("beta", "Succeeded", 0),
    ]
    alpha = page["canaries"][0]
    assert (alpha["failedChecks"], alpha["threshold"]) == (1, 2)
    assert alpha["lastTransitionTime"] == "2026-01-02T03:04:05+00:00"
    assert alpha["checks"][0]["value"] == 98.5

    _, filtered = await _json(local, f"/?namespace={namespace}&phase=Succeeded")
    assert [row["name"] for row in filtered["canaries"]] == ["beta"]

    status, shown = await _json(local, f"/canaries/{namespace}/alpha")
    assert status == 200
    assert shown["canary"]["appliedRevision"] == "abc123"
    assert shown["canary"]["actions"] == ["promote", "abort", "pause"]
    assert "request-success-rate" in shown["canary"]["yaml"]
    assert shown["canary"]["weights"][-1][1] == 30

    async with local.get(f"/canaries/{namespace}/alpha") as answer:
        html = await answer.text()
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "alpha" in html
    assert 'id="weight-chart"' in html
    # What the cluster says is text, never markup: escaped in the page (and in its data).
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    status, missing = await _json(local, f"/canaries/{namespace}/nothing")
    assert status == 404
    assert "not found" in missing["message"]


async def test_actions_write_the_annotations(api: ApiClient, namespace: str, local: Client) -> None:
    await canary_with_status(api, "alpha", namespace=namespace, status=PROGRESSING)
    _, page = await _json(local, "/")
    csrf = page["csrfToken"]

    status, done = await _act(local, f"/canaries/{namespace}/alpha/promote", csrf=csrf)
    assert status == 200, done
    assert "abc123 will be promoted" in done["message"]
    status, _ = await _act(local, f"/canaries/{namespace}/alpha/pause", csrf=csrf)
    assert status == 200
    annotations = await _annotations(api, "alpha", namespace)
    assert annotations["canary.dev/promote"] == "abc123"
    assert annotations["canary.dev/paused"] == "true"

    status, refused = await _act(local, f"/canaries/{namespace}/alpha/retry", csrf=csrf)
    assert status == 409
    assert "nothing to retry" in refused["message"]


async def test_forged_or_missing_csrf_token_is_refused(
    api: ApiClient, namespace: str, local: Client
) -> None:
    await canary_with_status(api, "alpha", namespace=namespace, status=PROGRESSING)
    _, page = await _json(local, "/")
    forged = "0" * len(page["csrfToken"])
    status, _ = await _act(local, f"/canaries/{namespace}/alpha/abort", csrf=forged)
    assert status == 403
    async with local.post(f"/canaries/{namespace}/alpha/abort") as answer:
        assert answer.status == 403
    status, _ = await _act(
        local,
        f"/canaries/{namespace}/alpha/abort",
        csrf=page["csrfToken"],
        Origin="http://evil.example",
    )
    assert status == 403
    assert "canary.dev/abort" not in await _annotations(api, "alpha", namespace)


async def test_only_loopback_host_names_are_served(local: Client) -> None:
    async with local.get("/", headers={"Host": "rebound.example:3100"}) as answer:
        assert answer.status == 421


async def test_token_mode_acts_with_the_callers_own_rights(api: ApiClient, namespace: str) -> None:
    await canary_with_status(api, "alpha", namespace=namespace, status=PROGRESSING)
    reader = await service_account_token(api, "reader", namespace=namespace, canary_verbs=READ)
    operator = await service_account_token(
        api, "operator", namespace=namespace, canary_verbs=[*READ, "patch"]
    )
    async with served(TokenAccess(api), loopback_only=False) as client:
        async with client.get("/", headers=JSON_ACCEPT) as answer:
            assert answer.status == 401
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        async with client.get("/", headers={"Authorization": "Bearer not-a-token"}) as answer:
            assert answer.status == 401
        async with client.get("/healthz") as answer:
            assert answer.status == 200

        as_reader = {"Authorization": f"Bearer {reader}"}
        status, page = await _json(client, f"/?namespace={namespace}", **as_reader)
        assert status == 200
        assert page["user"] == f"system:serviceaccount:{namespace}:reader"
        assert [row["name"] for row in page["canaries"]] == ["alpha"]
        # Everywhere is more than the reader may list: the page says so, with the API's words.
        _, everywhere = await _json(client, "/", **as_reader)
        assert "forbidden" in everywhere["problem"]
        status, refused = await _act(
            client, f"/canaries/{namespace}/alpha/promote", csrf=page["csrfToken"], **as_reader
        )
        assert status == 403
        assert 'cannot patch resource "canaries"' in refused["message"]
        assert "canary.dev/promote" not in await _annotations(api, "alpha", namespace)

        as_operator = {"Authorization": f"Bearer {operator}"}
        _, page = await _json(client, f"/?namespace={namespace}", **as_operator)
        # A CSRF token is bound to its caller: the reader's does not work for the operator.
        status, _ = await _act(
            client, f"/canaries/{namespace}/alpha/promote", csrf=page["csrfToken"], **as_reader
        )
        assert status == 403
        status, done = await _act(
            client, f"/canaries/{namespace}/alpha/promote", csrf=page["csrfToken"], **as_operator
        )
        assert status == 200, done
    assert (await _annotations(api, "alpha", namespace))["canary.dev/promote"] == "abc123"


async def test_the_live_list_follows_the_watch(
    api: ApiClient, namespace: str, local: Client
) -> None:
    stored = await canary_with_status(api, "alpha", namespace=namespace, status=PROGRESSING)
    _, page = await _json(local, "/")
    async with local.get(f"/live?namespace={namespace}") as stream:
        assert stream.headers["Content-Type"] == "text/event-stream"
        first = await _next_event(stream)
        assert [row["weight"] for row in first] == [30]
        await resources.replace_status(
            api, CANARY, {**stored, "status": {**PROGRESSING, "canaryWeight": 40}}
        )
        second = await _next_event(stream)
        assert [row["weight"] for row in second] == [40]
        # What only an annotation changes is shown live too.
        status, _ = await _act(local, f"/canaries/{namespace}/alpha/pause", csrf=page["csrfToken"])
        assert status == 200
        third = await _next_event(stream)
        assert [(row["paused"], row["actions"][-1]) for row in third] == [(True, "resume")]


async def test_the_live_list_is_read_with_the_callers_rights(
    api: ApiClient, namespace: str
) -> None:
    await canary_with_status(api, "alpha", namespace=namespace, status=PROGRESSING)
    reader = await service_account_token(api, "reader", namespace=namespace, canary_verbs=READ)
    nobody = await service_account_token(api, "nobody", namespace=namespace, canary_verbs=[])
    async with served(TokenAccess(api), loopback_only=False) as client:
        as_reader = {"Authorization": f"Bearer {reader}"}
        async with client.get(f"/live?namespace={namespace}", headers=as_reader) as stream:
            assert [row["name"] for row in await _next_event(stream)] == ["alpha"]
        as_nobody = {"Authorization": f"Bearer {nobody}"}
        async with client.get(f"/live?namespace={namespace}", headers=as_nobody) as stream:
            problem = await _next_event(stream, event="problem")
        assert 'cannot list resource "canaries"' in problem["message"]
        status, page = await _json(client, f"/canaries/{namespace}/alpha", **as_nobody)
        assert status == 403
        assert 'cannot get resource "canaries"' in page["message"]


async def _next_event(stream: Any, *, event: str = "canaries") -> Any:
    """The data of the next `event` (keepalive comments skipped)."""
    kind, data = "", ""
    async for raw in stream.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data = line.removeprefix("data: ")
        elif not line and kind == event:
            return json.loads(data)
    raise AssertionError("the event stream ended")


async def test_each_check_is_charted_from_the_query_the_controller_judges(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    prometheus = sandbox.prometheus_url
    templates = [
        ("answer", {"type": "prometheus", "address": prometheus}, "vector(42)"),
        ("elsewhere", {"type": "graphite", "address": "http://127.0.0.1:1"}, "a.b.c"),
    ]
    for name, provider, query in templates:
        await apply_with_crds(
            api,
            {
                "apiVersion": "canary.dev/v1alpha1",
                "kind": "MetricTemplate",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {"provider": provider, "query": query},
            },
        )
    manifest = canary("alpha", namespace=namespace, step_weights=[10, 30])
    manifest["spec"]["analysis"]["metrics"] += [
        {"name": "answer", "templateRef": {"name": "answer"}, "thresholdRange": {"min": 1}},
        {"name": "elsewhere", "templateRef": {"name": "elsewhere"}, "thresholdRange": {"min": 1}},
        {"name": "missing", "templateRef": {"name": "missing"}, "thresholdRange": {"min": 1}},
    ]
    await apply_with_crds(api, manifest)

    async with served(KubeconfigAccess(api, user="tester"), prometheus_url=prometheus) as client:
        status, page = await _json(client, f"/canaries/{namespace}/alpha")
    assert status == 200
    checks = page["metrics"]["checks"]
    assert checks["answer"]["problem"] == ""
    assert set(checks["answer"]["values"]) == {42.0}
    assert checks["elsewhere"]["problem"] == (
        "charts are drawn for Prometheus templates, not graphite"
    )
    assert checks["missing"]["problem"] == f"MetricTemplate {namespace}/missing cannot be read"
    # The builtin checks: asked, answered (no traffic reaches this Canary: no values).
    for builtin in ("request-success-rate", "request-duration"):
        assert checks[builtin]["problem"] == "", checks[builtin]
        assert checks[builtin]["times"]
    assert page["metrics"]["golden"]["problem"] == ""
