"""How often a failing Canary is shown, against the real API server: nothing before
FAILURES_SHOWN failures in a row, then the condition once and one Warning event per message per
EVENT_EVERY; a new message at once; and a hung read never holds the scheduler's loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient, CoreV1Api

from canary.api.crd import all_crds
from canary.controller.failures import (
    EVENT_EVERY,
    FAILURES_SHOWN,
    RECONCILE_FAILED,
    FailureReporter,
    failure_message,
)
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.events import flush_events
from canary.kube.resources import CANARY, ResourceKind

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "podinfo" / "canary.yaml"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _events(api: ApiClient, namespace: str) -> list[str]:
    found = await CoreV1Api(api).list_namespaced_event(
        namespace, field_selector="involvedObject.kind=Canary,involvedObject.name=podinfo"
    )
    return [e.message for e in found.items if e.reason == RECONCILE_FAILED]


async def _counts(api: ApiClient, namespace: str) -> dict[str, int]:
    """Each ReconcileFailed Event's message and how many times it was said."""
    found = await CoreV1Api(api).list_namespaced_event(
        namespace, field_selector="involvedObject.kind=Canary,involvedObject.name=podinfo"
    )
    return {e.message: e.count or 1 for e in found.items if e.reason == RECONCILE_FAILED}


async def _canary(api: ApiClient, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, CANARY, "podinfo", namespace=namespace)
    assert found is not None
    return found


async def test_failures_are_shown_once_per_message_and_interval(
    api: ApiClient, namespace: str
) -> None:
    await install_crds(api, all_crds().values())
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["namespace"] = namespace
    await resources.apply(api, manifest)

    async def read(kind: ResourceKind, namespace: str, name: str) -> dict[str, Any] | None:
        return await resources.get(api, kind, name, namespace=namespace)

    clock = _Clock()
    reporter = FailureReporter(
        api, read=read, may_act=lambda: True, remember=lambda _written: None, clock=clock
    )
    key = (namespace, "podinfo")
    forbidden = RuntimeError('services "podinfo" is forbidden')

    for count in range(1, FAILURES_SHOWN):
        await reporter.failed(key, forbidden, count)
    assert await _events(api, namespace) == []
    assert (await _canary(api, namespace))["status"] == {"observedGeneration": 0}

    await reporter.failed(key, forbidden, FAILURES_SHOWN)
    shown = await _canary(api, namespace)
    assert await _events(api, namespace) == [failure_message(forbidden)]
    ready = next(c for c in shown["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["reason"], ready["message"]) == (RECONCILE_FAILED, failure_message(forbidden))

    for count in range(FAILURES_SHOWN + 1, FAILURES_SHOWN + 4):  # the same problem goes on
        await reporter.failed(key, forbidden, count)
    assert len(await _events(api, namespace)) == 1
    same = await _canary(api, namespace)
    assert same["metadata"]["resourceVersion"] == shown["metadata"]["resourceVersion"]

    clock.now += EVENT_EVERY  # still there after EVENT_EVERY: said again, once (a repeat of
    await reporter.failed(key, forbidden, 10)  # one Event is aggregated: its count goes up)
    await reporter.failed(key, forbidden, 11)
    await flush_events(api, everything=True)
    assert await _counts(api, namespace) == {failure_message(forbidden): 2}

    timeout = TimeoutError()  # another problem is said at once
    await reporter.failed(key, timeout, 12)
    assert failure_message(timeout) in await _events(api, namespace)
    ready = next(
        c for c in (await _canary(api, namespace))["status"]["conditions"] if c["type"] == "Ready"
    )
    assert ready["message"] == failure_message(timeout)


async def test_a_hung_api_server_never_holds_the_loop(api: ApiClient, namespace: str) -> None:
    async def hung(_kind: ResourceKind, _namespace: str, _name: str) -> dict[str, Any] | None:
        await asyncio.Event().wait()
        return None

    reporter = FailureReporter(api, read=hung, may_act=lambda: True, remember=lambda _w: None)
    async with asyncio.timeout(60):  # a deadline for the test, not a measurement
        await reporter.failed((namespace, "podinfo"), RuntimeError("down"), FAILURES_SHOWN)
