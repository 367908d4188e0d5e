"""The controller's watcher: ordered events, relist when the version is gone, reopen when silent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from kubernetes_asyncio.client import ApiClient, Configuration, CoreV1Api, V1ConfigMap

from canary.kube.objects import body
from canary.kube.resources import resource_kind
from canary.kube.watch import Timing, WatchEvent, watch

CONFIG_MAPS = resource_kind("v1", "ConfigMap")


def _config_map(name: str, data: dict[str, str] | None = None) -> V1ConfigMap:
    return body({"metadata": {"name": name}, "data": data or {}}, V1ConfigMap)


async def _next(events: AsyncIterator[WatchEvent], *, skip_config: bool = True) -> WatchEvent:
    """The next event, skipping the kube-root-ca.crt ConfigMap of every namespace."""
    async with asyncio.timeout(30):
        while True:
            event = await anext(events)
            name = event.object.get("metadata", {}).get("name")
            if not (skip_config and name == "kube-root-ca.crt"):
                return event


async def test_events_arrive_in_order_after_the_initial_list(
    api: ApiClient, namespace: str
) -> None:
    core = CoreV1Api(api)
    await core.create_namespaced_config_map(namespace, _config_map("before"))
    events = watch(api, CONFIG_MAPS, namespace=namespace)
    synced = await _next(events)
    assert synced.kind == "SYNCED"
    assert "before" in {item["metadata"]["name"] for item in synced.items}
    assert all(item["kind"] == "ConfigMap" for item in synced.items)

    await core.create_namespaced_config_map(namespace, _config_map("after"))
    await core.patch_namespaced_config_map("after", namespace, {"data": {"k": "v"}})
    await core.delete_namespaced_config_map("before", namespace)
    seen = [await _next(events) for _ in range(3)]
    await events.aclose()  # type: ignore[attr-defined]
    assert [(e.kind, e.object["metadata"]["name"]) for e in seen] == [
        ("ADDED", "after"),
        ("MODIFIED", "after"),
        ("DELETED", "before"),
    ]
    assert seen[1].object["data"] == {"k": "v"}


async def test_a_gone_resource_version_relists(api: ApiClient, namespace: str) -> None:
    await CoreV1Api(api).create_namespaced_config_map(namespace, _config_map("present"))
    # "1" is older than anything the API server keeps for ConfigMaps in a running cluster,
    # unless its watch cache still holds everything; either way the watcher must end up
    # with the current state: a relist (SYNCED), or a replay that includes the object.
    events = watch(api, CONFIG_MAPS, namespace=namespace, resume_from="1")
    first = await _next(events)
    await events.aclose()  # type: ignore[attr-defined]
    names = (
        {item["metadata"]["name"] for item in first.items}
        if first.kind == "SYNCED"
        else {first.object["metadata"]["name"]}
    )
    assert "present" in names


async def test_a_silent_stream_is_reopened_from_the_last_version(unused_tcp_port: int) -> None:
    """A fake API server on 127.0.0.1 whose watch requests hang without sending anything."""
    watch_versions: list[str] = []
    second_watch = asyncio.Event()
    done = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") != "true":
            return web.json_response(
                {"kind": "ConfigMapList", "metadata": {"resourceVersion": "42"}, "items": []}
            )
        watch_versions.append(request.query["resourceVersion"])
        if len(watch_versions) >= 2:
            second_watch.set()
        response = web.StreamResponse()
        await response.prepare(request)
        await done.wait()  # silence, until the client gives up (and the test ends)
        return response

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/quiet/configmaps", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", unused_tcp_port)
    await site.start()
    configuration = Configuration(host=f"http://127.0.0.1:{unused_tcp_port}")
    try:
        async with ApiClient(configuration) as client:
            events = watch(
                client,
                CONFIG_MAPS,
                namespace="quiet",
                timing=Timing(server_timeout=1, silence_margin=0.5),
            )
            consumer = asyncio.create_task(_drain(events))
            async with asyncio.timeout(30):
                await second_watch.wait()
            consumer.cancel()
    finally:
        done.set()
        await runner.cleanup()
    assert watch_versions[:2] == ["42", "42"]


@contextlib.asynccontextmanager
async def _fake_server(
    namespace: str, handler: Callable[[web.Request], Awaitable[web.StreamResponse]], port: int
) -> AsyncIterator[ApiClient]:
    """A client of a fake API server on `port` whose ConfigMaps of `namespace` `handler` answers
    (lists and watches alike)."""
    app = web.Application()
    app.router.add_get(f"/api/v1/namespaces/{namespace}/configmaps", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        configuration = Configuration(host=f"http://127.0.0.1:{port}")
        async with ApiClient(configuration) as client:
            yield client
    finally:
        await runner.cleanup()


async def _drain(events: AsyncIterator[Any]) -> None:
    async for _ in events:
        pass


async def test_an_error_answer_to_the_list_is_retried_not_fatal(unused_tcp_port: int) -> None:
    """429 while a CRD's storage initializes (seen right after a CRD is Established), then OK."""
    lists = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal lists
        if request.query.get("watch") == "true":
            return web.Response(text="")  # the server ends the watch at once
        lists += 1
        if lists == 1:
            return web.json_response(
                {"kind": "Status", "code": 429, "message": "storage is (re)initializing"},
                status=429,
            )
        return web.json_response(
            {"kind": "ConfigMapList", "metadata": {"resourceVersion": "7"}, "items": []}
        )

    async with _fake_server("busy", handler, unused_tcp_port) as client:
        events = watch(client, CONFIG_MAPS, namespace="busy")
        async with asyncio.timeout(30):
            first = await anext(events)
        await events.aclose()  # type: ignore[attr-defined]
    assert first.kind == "SYNCED"
    assert lists == 2


async def test_each_watch_request_asks_for_its_own_timeout_within_the_spread(
    unused_tcp_port: int,
) -> None:
    """client-go's spread: every request's timeoutSeconds is drawn from [T, 2T), so watches
    opened together are not reopened together for ever after."""
    asked: list[int] = []
    enough = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") != "true":
            return web.json_response(
                {"kind": "ConfigMapList", "metadata": {"resourceVersion": "7"}, "items": []}
            )
        asked.append(int(request.query["timeoutSeconds"]))
        if len(asked) >= 20:
            enough.set()
        return web.Response(text="")  # the server ends this watch at once: the next one comes

    async with _fake_server("spread", handler, unused_tcp_port) as client:
        events = watch(client, CONFIG_MAPS, namespace="spread", timing=Timing(server_timeout=100))
        consumer = asyncio.create_task(_drain(events))
        async with asyncio.timeout(30):
            await enough.wait()
        consumer.cancel()
    assert all(100 <= seconds < 200 for seconds in asked), asked
    assert len(set(asked)) > 1, asked  # drawn anew for each request


def test_a_watch_requests_timeout_spans_the_spread_and_bounds_its_silence() -> None:
    timing = Timing(server_timeout=240, silence_margin=30, spread=1.0)
    assert timing.request_timeout(0.0) == 240
    assert timing.request_timeout(0.5) == 360
    assert timing.request_timeout(0.9999) == 479
    assert Timing(server_timeout=240, spread=0.0).request_timeout(0.9) == 240
    assert timing.silence(360) == 390
