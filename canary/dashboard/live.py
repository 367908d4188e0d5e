"""Server-sent events fed by watches: the browser keeps one connection open, and the server sends
the list (or one Canary's line) again whenever a Canary changes in a way the page shows.

`GET /live?namespace=&phase=` streams `event: canaries` with the list's rows; `GET
/canaries/<ns>/<name>/live` streams `event: canary` with that Canary's row. The watch runs as
the caller, and starts only after a list the API server allowed, so a person who may not read
the Canaries gets one `event: problem` with the API server's message, never a retrying watch.
A comment line every `KEEPALIVE` seconds notices a browser that left.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Final

from aiohttp import web

from canary.dashboard import model
from canary.dashboard.pages import ACCESS
from canary.dashboard.security import caller_of
from canary.kube import resources
from canary.kube.errors import KubeError
from canary.kube.resources import CANARY
from canary.kube.watch import WatchEvent, watch

KEEPALIVE: Final = 15.0


def _frame(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def _open(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    return response


async def list_events(request: web.Request) -> web.StreamResponse:
    namespace = request.query.get("namespace", "").strip() or None
    phase = request.query.get("phase", "").strip() or None
    return await _stream(request, namespace=namespace, name=None, phase=phase)


async def canary_events(request: web.Request) -> web.StreamResponse:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    return await _stream(request, namespace=namespace, name=name, phase=None)


async def _stream(
    request: web.Request, *, namespace: str | None, name: str | None, phase: str | None
) -> web.StreamResponse:
    response = await _open(request)
    async with request.app[ACCESS].client(caller_of(request)) as api:
        try:
            await resources.list_objects(api, CANARY, namespace=namespace)
        except KubeError as error:
            await response.write(_frame("problem", {"message": error.message}))
            return response
        changes: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        watcher = asyncio.create_task(
            _follow(watch(api, CANARY, namespace=namespace), changes, name=name, phase=phase)
        )
        try:
            await _send(response, changes, single=name is not None)
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    return response


async def _send(
    response: web.StreamResponse,
    changes: asyncio.Queue[list[dict[str, Any]]],
    *,
    single: bool,
) -> None:
    """Write every change until the browser goes away."""
    while True:
        try:
            async with asyncio.timeout(KEEPALIVE):
                lines = await changes.get()
        except TimeoutError:
            frame = b": keepalive\n\n"
        else:
            if single:
                frame = _frame("canary", lines[0] if lines else None)
            else:
                frame = _frame("canaries", lines)
        try:
            await response.write(frame)
        except (ConnectionResetError, RuntimeError):  # the browser left
            return


async def _follow(
    events: AsyncIterator[WatchEvent],
    changes: asyncio.Queue[list[dict[str, Any]]],
    *,
    name: str | None,
    phase: str | None,
) -> None:
    """Put the rows (of `name` only, when given) on `changes` whenever they differ from the
    last rows put: anything a row shows counts (a pause annotation too), ages do not."""
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    last: list[dict[str, Any]] | None = None
    async for event in events:
        _remember(objects, event)
        chosen = [obj for key, obj in objects.items() if name is None or key[1] == name]
        lines = model.rows(chosen, phase=phase)
        if lines != last:
            changes.put_nowait(lines)
            last = lines


def _remember(objects: dict[tuple[str, str], dict[str, Any]], event: WatchEvent) -> None:
    def key(obj: dict[str, Any]) -> tuple[str, str]:
        metadata = obj.get("metadata") or {}
        return (str(metadata.get("namespace") or ""), str(metadata.get("name") or ""))

    match event.kind:
        case "SYNCED":
            objects.clear()
            objects.update({key(obj): obj for obj in event.items})
        case "DELETED":
            objects.pop(key(event.object), None)
        case _:
            objects[key(event.object)] = event.object
