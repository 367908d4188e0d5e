"""The controller counts its own API requests and reconcile cycles, with the right labels.

The requests go through the real transport (`canary.kube.resources`, `watch`, `events`) to a
small aiohttp server on 127.0.0.1 that plays the API server; the counters are read back from
prometheus_client's default registry, the one /metrics serves.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration
from prometheus_client import REGISTRY

from canary.kube import resources
from canary.kube.errors import Conflict, NotFound, Transient
from canary.kube.events import record_event
from canary.kube.metrics import describe
from canary.kube.watch import watch
from canary.sandbox.ports import free_ports
from canary.telemetry import metrics

CANARIES = resources.resource_kind("canary.dev/v1alpha1", "Canary")
CANARY_PATH = "/apis/canary.dev/v1alpha1/namespaces/ns/canaries"
CANARY: dict[str, Any] = {
    "apiVersion": "canary.dev/v1alpha1",
    "kind": "Canary",
    "metadata": {"name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "7"},
    "spec": {},
    "status": {"phase": "Progressing"},
}


def requests(verb: str, resource: str, code: str) -> float:
    labels = {"verb": verb, "resource": resource, "code": code}
    return REGISTRY.get_sample_value("canary_api_requests_total", labels) or 0.0


def reconciles(result: str) -> float:
    return REGISTRY.get_sample_value("canary_reconcile_total", {"result": result}) or 0.0


def _json(body: object, *, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


async def _not_found(_: web.Request) -> web.Response:
    return _json(
        {"kind": "Status", "code": 404, "reason": "NotFound", "message": "nope"}, status=404
    )


async def _canary(_: web.Request) -> web.Response:
    return _json(CANARY)


async def _status_conflict(_: web.Request) -> web.Response:
    return _json(
        {"kind": "Status", "code": 409, "reason": "Conflict", "message": "stale"}, status=409
    )


async def _list(request: web.Request) -> web.StreamResponse:
    if request.query.get("watch") != "true":
        return _json(
            {"kind": "CanaryList", "metadata": {"resourceVersion": "7"}, "items": [CANARY]}
        )
    response = web.StreamResponse()
    await response.prepare(request)
    await response.write(json.dumps({"type": "MODIFIED", "object": CANARY}).encode() + b"\n")
    await response.write_eof()  # the server ends the watch request; the watcher reopens it
    return response


async def _event(request: web.Request) -> web.Response:
    return _json({**await request.json(), "kind": "Event", "apiVersion": "v1"}, status=201)


@pytest.fixture
async def api() -> AsyncIterator[ApiClient]:
    """A client of a fake API server on 127.0.0.1 that knows one Canary, `ns/web`."""
    app = web.Application()
    app.router.add_get(f"{CANARY_PATH}/web", _canary)
    app.router.add_get(f"{CANARY_PATH}/gone", _not_found)
    app.router.add_put(f"{CANARY_PATH}/web/status", _status_conflict)
    app.router.add_get(CANARY_PATH, _list)
    app.router.add_post("/api/v1/namespaces/ns/events", _event)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    (port,) = free_ports(1)
    await web.TCPSite(runner, "127.0.0.1", port).start()
    configuration = Configuration(host=f"http://127.0.0.1:{port}")
    try:
        async with ApiClient(configuration) as client:
            yield client
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("method", "path", "labels"),
    [
        ("GET", "/api/v1/namespaces/ns/services/web", ("GET", "services")),
        ("GET", "/api/v1/namespaces/ns/services", ("LIST", "services")),
        ("GET", "/api/v1/services", ("LIST", "services")),
        ("POST", "/api/v1/namespaces/ns/events", ("POST", "events")),
        ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/web", ("PATCH", "deployments")),
        ("PUT", f"{CANARY_PATH}/web/status", ("PUT", "canaries/status")),
        ("DELETE", "/api/v1/namespaces/ns", ("DELETE", "namespaces")),
        ("GET", "/api/v1/namespaces", ("LIST", "namespaces")),
        ("PUT", "/api/v1/namespaces/ns/finalize", ("PUT", "namespaces/finalize")),
        (
            "GET",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/canaries.canary.dev",
            ("GET", "customresourcedefinitions"),
        ),
        ("get", "/healthz", ("GET", "unknown")),
    ],
)
def test_verb_and_resource_of_a_request(method: str, path: str, labels: tuple[str, str]) -> None:
    assert describe(method, path) == labels


async def test_a_get_is_counted_with_its_status_code(api: ApiClient) -> None:
    found, missing = requests("GET", "canaries", "200"), requests("GET", "canaries", "404")
    assert await resources.get(api, CANARIES, "web", namespace="ns") == CANARY
    assert await resources.get(api, CANARIES, "gone", namespace="ns") is None
    assert requests("GET", "canaries", "200") == found + 1
    assert requests("GET", "canaries", "404") == missing + 1


def _timed(verb: str, resource: str) -> tuple[float, float]:
    """(count, sum of seconds) of `canary_api_request_duration_seconds` for verb and resource."""
    labels = {"verb": verb, "resource": resource}
    count = REGISTRY.get_sample_value("canary_api_request_duration_seconds_count", labels)
    total = REGISTRY.get_sample_value("canary_api_request_duration_seconds_sum", labels)
    return count or 0.0, total or 0.0


async def test_each_request_is_timed_answered_or_not(api: ApiClient) -> None:
    count, total = _timed("GET", "canaries")
    started = time.monotonic()
    await resources.get(api, CANARIES, "web", namespace="ns")
    await resources.get(api, CANARIES, "gone", namespace="ns")
    elapsed = time.monotonic() - started
    after_count, after_total = _timed("GET", "canaries")
    assert after_count == count + 2
    assert 0 < after_total - total <= elapsed


async def test_a_failed_status_write_is_counted_with_its_code(api: ApiClient) -> None:
    before = requests("PUT", "canaries/status", "409")
    with pytest.raises(Conflict):
        await resources.replace_status(api, CANARIES, CANARY)
    assert requests("PUT", "canaries/status", "409") == before + 1


async def test_a_request_without_an_answer_counts_as_error() -> None:
    (port,) = free_ports(1)  # nothing listens there
    before = requests("GET", "canaries", "error")
    async with ApiClient(Configuration(host=f"http://127.0.0.1:{port}")) as client:
        with pytest.raises(Transient):
            await resources.get(client, CANARIES, "web", namespace="ns")
    assert requests("GET", "canaries", "error") == before + 1


async def test_an_unknown_route_is_counted_as_404(api: ApiClient) -> None:
    before = requests("PATCH", "deployments", "404")
    with pytest.raises(NotFound):
        await resources.scale(api, resources.DEPLOYMENT, "web", namespace="ns", replicas=1)
    assert requests("PATCH", "deployments", "404") == before + 1


async def test_a_watch_counts_its_list_and_each_watch_request(api: ApiClient) -> None:
    lists, watches = requests("LIST", "canaries", "200"), requests("WATCH", "canaries", "200")
    kinds = []
    async for event in watch(api, CANARIES, namespace="ns"):
        kinds.append(event.kind)
        if len(kinds) == 3:  # SYNCED, then one MODIFIED from each of two watch requests
            break
    assert kinds == ["SYNCED", "MODIFIED", "MODIFIED"]
    assert requests("LIST", "canaries", "200") == lists + 1
    assert requests("WATCH", "canaries", "200") == watches + 2


async def test_an_event_is_counted_as_a_post(api: ApiClient) -> None:
    created, missing = requests("POST", "events", "201"), requests("POST", "events", "404")
    await record_event(api, CANARY, reason="Synced", message="hello")
    await record_event(
        api, {**CANARY, "metadata": {"name": "x", "namespace": "other"}}, reason="R", message="m"
    )
    assert requests("POST", "events", "201") == created + 1
    assert requests("POST", "events", "404") == missing + 1  # best effort: logged, not raised


async def test_reconcile_cycles_are_counted_by_result_and_timed() -> None:
    @metrics.instrument_cycle
    async def cycle(outcome: str) -> float:
        if outcome == "conflict":
            metrics.mark_conflict()
        if outcome == "error":
            raise RuntimeError("broken")
        return 1.0

    before = {result: reconciles(result) for result in ("ok", "conflict", "error")}
    timed = REGISTRY.get_sample_value("canary_reconcile_duration_seconds_count") or 0.0
    assert await cycle("ok") == 1.0
    assert await cycle("conflict") == 1.0
    assert await cycle("ok") == 1.0  # a conflict is not remembered past its own cycle
    with pytest.raises(RuntimeError):
        await cycle("error")
    after = {result: reconciles(result) - count for result, count in before.items()}
    assert after == {"ok": 2, "conflict": 1, "error": 1}
    assert REGISTRY.get_sample_value("canary_reconcile_duration_seconds_count") == timed + 4
