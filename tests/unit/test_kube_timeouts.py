"""Every Kubernetes request is bounded: against a server that accepts connections and never
answers (a hung API server), events and object requests give up within their timeouts, say so
in the log naming the call, and count `error` in canary_api_requests_total."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import structlog
from kubernetes_asyncio.client import ApiClient, Configuration

from canary.kube import events, resources
from canary.kube.errors import Transient
from canary.kube.metrics import API_REQUESTS
from canary.kube.resources import CANARY

INVOLVED = {
    "apiVersion": "canary.dev/v1alpha1",
    "kind": "Canary",
    "metadata": {"name": "podinfo", "namespace": "team-a", "uid": "u1"},
}


@pytest.fixture
async def hung_api() -> AsyncIterator[ApiClient]:
    """A client of a server on 127.0.0.1 that reads requests and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    configuration = Configuration(host=f"http://127.0.0.1:{port}")
    try:
        async with ApiClient(configuration) as api:
            yield api
    finally:
        for writer in held:
            writer.close()
        server.close()


def _errors(verb: str, resource: str) -> float:
    return float(API_REQUESTS.labels(verb=verb, resource=resource, code="error")._value.get())


async def test_recording_an_event_gives_up_within_its_timeout(
    hung_api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "EVENT_TIMEOUT", 0.2)
    before = _errors("POST", "events")
    with structlog.testing.capture_logs() as logs:
        async with asyncio.timeout(10):  # without a timeout of its own it would hang forever
            await events.record_event(hung_api, INVOLVED, reason="Synced", message="hello")
    assert _errors("POST", "events") == before + 1
    warnings = [entry for entry in logs if entry["log_level"] == "warning"]
    assert warnings
    assert warnings[0]["event"] == "event_not_recorded"
    assert "POST events: no answer within 0.2 s" in warnings[0]["error"]


async def test_an_object_request_gives_up_naming_the_call(
    hung_api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "REQUEST_TIMEOUT", 0.2)
    before = _errors("GET", "canaries")
    with structlog.testing.capture_logs() as logs, pytest.raises(Transient) as raised:
        async with asyncio.timeout(10):
            await resources.get(hung_api, CANARY, "podinfo", namespace="team-a")
    path = "/apis/canary.dev/v1alpha1/namespaces/team-a/canaries/podinfo"
    assert str(raised.value) == f"GET {path}: no answer within 0.2 s"
    assert _errors("GET", "canaries") == before + 1
    assert [entry["call"] for entry in logs if entry["event"] == "api_request_unanswered"] == [
        f"GET {path}"
    ]
