"""The API client speaks HTTP/2 to the real kube-apiserver: a watch and a burst of writes share
one connection, a watch given up is reset without harming the connection, and a body larger
than the server's per-stream window (256 KiB in kube-apiserver) is sent whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from kubernetes_asyncio.client import ApiClient
from prometheus_client import REGISTRY

from canary.kube import resources
from canary.kube.resources import CONFIG_MAP
from canary.kube.transport import Http2RestClient
from canary.kube.watch import WatchEvent, watch


def _transport(api: ApiClient) -> Http2RestClient:
    assert isinstance(api.rest_client, Http2RestClient)
    return api.rest_client


def _opened() -> float:
    return REGISTRY.get_sample_value("canary_api_http2_connections_total") or 0.0


def _config_map(namespace: str, name: str, data: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


async def _added(events: AsyncIterator[WatchEvent], count: int) -> set[str]:
    names: set[str] = set()
    async with asyncio.timeout(30):
        while len(names) < count:
            event = await anext(events)
            name = event.object.get("metadata", {}).get("name", "")
            if event.kind == "ADDED" and name.startswith("burst-"):
                names.add(name)
    return names


async def test_a_watch_and_a_burst_of_writes_share_one_connection(
    api: ApiClient, namespace: str
) -> None:
    await resources.version(api)
    transport = _transport(api)
    assert transport.speaks_http2
    connection = transport.connection
    assert connection is not None
    opened = _opened()
    events = watch(api, CONFIG_MAP, namespace=namespace)
    assert (await anext(events)).kind == "SYNCED"
    names = {f"burst-{n}" for n in range(50)}
    await asyncio.gather(
        *(resources.create(api, _config_map(namespace, name, {"n": name})) for name in names)
    )
    assert await _added(events, len(names)) == names
    await events.aclose()  # type: ignore[attr-defined]
    assert transport.connection is connection
    assert _opened() == opened


async def test_a_watch_given_up_is_reset_and_the_connection_goes_on(
    api: ApiClient, namespace: str
) -> None:
    events = watch(api, CONFIG_MAP, namespace=namespace)
    assert (await anext(events)).kind == "SYNCED"
    await resources.create(api, _config_map(namespace, "burst-first", {}))
    assert await _added(events, 1) == {"burst-first"}  # the watch's stream is open now
    connection = _transport(api).connection
    assert connection is not None
    assert connection.open_streams == 1
    await events.aclose()  # type: ignore[attr-defined]
    assert connection.open_streams == 0
    await resources.create(api, _config_map(namespace, "after", {"k": "v"}))
    read = await resources.get(api, CONFIG_MAP, "after", namespace=namespace)
    assert read is not None
    assert read["data"] == {"k": "v"}
    assert _transport(api).connection is connection


async def test_a_body_larger_than_the_servers_window_is_sent_whole(
    api: ApiClient, namespace: str
) -> None:
    value = "0123456789abcdef" * 50_000  # 800 KB: more than three of the server's windows
    await resources.create(api, _config_map(namespace, "large", {"value": value}))
    read = await resources.get(api, CONFIG_MAP, "large", namespace=namespace)
    assert read is not None
    assert read["data"]["value"] == value
