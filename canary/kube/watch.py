"""List and watch one resource type for as long as the caller iterates, surviving everything.

A watch resumes from the last resourceVersion it saw (bookmarks included). When the API server
answers 410 Gone (that version is no longer in its window), the watcher relists and starts again
from the list's version. Each watch request asks the server to end it after a time drawn between
`SERVER_TIMEOUT` and twice that, as client-go's reflector does, so that the watches a controller
opened together are not all reopened together ever after. A connection that goes silent for
longer than its request's timeout plus a margin is treated as dead and reopened, so a stalled
watch never freezes the controller.
Transient errors back off with jitter. Consumers get the full object list after every (re)list,
so they can notice deletions they missed while disconnected.

This module must not interpret objects: it delivers them as dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from canary.kube.answers import API_SERVER
from canary.kube.metrics import NO_ANSWER, count_path, count_request
from canary.kube.resources import ResourceKind

log = structlog.get_logger(__name__)

SERVER_TIMEOUT = 240  # seconds the API server keeps one watch request open, at least
TIMEOUT_SPREAD = 1.0  # a request's timeout is drawn from [SERVER_TIMEOUT, (1 + this) x it)
SILENCE_MARGIN = 30.0  # extra seconds of silence tolerated before the stream counts as stalled
LIST_TIMEOUT = 60.0  # seconds for one (re)list, its whole body included


@dataclass(frozen=True)
class WatchEvent:
    """`kind` is ADDED, MODIFIED or DELETED for one object, or SYNCED after a (re)list."""

    kind: str
    object: dict[str, Any] = field(default_factory=dict)
    items: tuple[dict[str, Any], ...] = ()


class GoneError(Exception):
    """The resourceVersion we resumed from is too old: relist."""


async def _get_json(client: ApiClient, path: str, query: list[tuple[str, str]]) -> dict[str, Any]:
    """A list, bounded by `LIST_TIMEOUT` from the request to the last byte of its body."""
    code: int | str = NO_ANSWER
    async with asyncio.timeout(LIST_TIMEOUT):
        try:
            with API_SERVER.waiting(f"LIST {path}"):
                response = await client.call_api(
                    path,
                    "GET",
                    query_params=query,
                    auth_settings=["BearerToken"],
                    _preload_content=False,
                    _return_http_data_only=True,
                )
            code = response.status
        finally:
            count_path("GET", path, code)  # a collection path: LIST
        try:
            await _raise_for_status(response)
            return dict(await response.json())
        finally:
            response.release()


async def _raise_for_status(response: Any) -> None:
    """An error answer (429 while a CRD's storage initializes, 5xx, 403) is an ApiException, so
    the watcher's retry (and, for 410, relist) handles it instead of misreading the body."""
    if response.status == 200:
        return
    text = (await response.text())[:512]
    raise ApiException(status=response.status, reason=f"HTTP {response.status}: {text}")


async def _list(
    client: ApiClient, resource: ResourceKind, namespace: str | None, label_selector: str
) -> tuple[str, list[dict[str, Any]]]:
    query = [("labelSelector", label_selector)] if label_selector else []
    body = await _get_json(client, resource.collection(namespace), query)
    items = [dict(item) for item in body.get("items") or []]
    # Lists omit apiVersion/kind on items; consumers expect whole objects.
    kind = str(body.get("kind", "")).removesuffix("List")
    for item in items:
        item.setdefault("apiVersion", resource.api_version)
        item.setdefault("kind", kind)
    version = (body.get("metadata") or {}).get("resourceVersion")
    if not version:
        raise ValueError(f"a list of {resource.plural} without a resourceVersion")
    return str(version), items


@dataclass(frozen=True)
class Timing:
    """How long one watch request lasts, and how much silence beyond that means a dead stream."""

    server_timeout: int = SERVER_TIMEOUT
    silence_margin: float = SILENCE_MARGIN
    spread: float = TIMEOUT_SPREAD

    def request_timeout(self, draw: float) -> int:
        """The timeout of one watch request, in whole seconds, for `draw` in [0, 1)."""
        return int(self.server_timeout * (1.0 + self.spread * draw))

    def silence(self, request_timeout: int) -> float:
        """Seconds without a byte after which a request of `request_timeout` is dead."""
        return request_timeout + self.silence_margin


async def _stream(  # noqa: PLR0913 - what to watch, from where, how long
    client: ApiClient,
    resource: ResourceKind,
    namespace: str | None,
    version: str,
    timing: Timing,
    *,
    label_selector: str,
) -> AsyncGenerator[dict[str, Any], None]:
    """Raw watch events from `version` until the server ends the request."""
    timeout = timing.request_timeout(random.random())  # noqa: S311 - spreading, not secrecy
    silence = timing.silence(timeout)
    query = [
        ("watch", "true"),
        ("resourceVersion", version),
        ("allowWatchBookmarks", "true"),
        ("timeoutSeconds", str(timeout)),
    ]
    if label_selector:
        query.append(("labelSelector", label_selector))
    code: int | str = NO_ANSWER
    try:
        async with asyncio.timeout(silence):  # a stall can come before the headers, too
            response = await client.call_api(
                resource.collection(namespace),
                "GET",
                query_params=query,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
            )
        code = response.status
    finally:
        count_request("WATCH", resource.plural, code)
    try:
        await _raise_for_status(response)
        while True:
            async with asyncio.timeout(silence):
                line = await response.content.readline()
            if not line:
                return
            event = json.loads(line)
            if not isinstance(event, dict) or "type" not in event:
                raise ValueError(f"not a watch event: {line[:200]!r}")
            if event.get("type") == "ERROR":
                status = event.get("object", {})
                if status.get("code") == 410:
                    raise GoneError(status.get("message", "resource version too old"))
                raise ApiException(status=status.get("code", 500), reason=status.get("message"))
            yield event
    finally:
        response.release()


async def watch(  # noqa: PLR0913 - keyword-only beyond what to watch
    client: ApiClient,
    resource: ResourceKind,
    *,
    namespace: str | None = None,
    resume_from: str | None = None,
    timing: Timing = Timing(),
    label_selector: str = "",
) -> AsyncIterator[WatchEvent]:
    """Every change to `resource` (in `namespace`, or all), forever; see the module docstring.

    Without `resume_from` it starts with a list (a SYNCED event); with it, it resumes a watch
    from that resourceVersion and lists only if the version is gone. With `label_selector`
    only the matching objects are listed and watched; one whose labels stop matching arrives
    as DELETED (the API server's own semantics), one that starts matching as ADDED.
    """
    backoff = 0.5
    version: str | None = resume_from
    while True:
        try:
            if version is None:
                version, items = await _list(client, resource, namespace, label_selector)
                synced = WatchEvent("SYNCED", items=tuple(items))
                del items  # not kept in this frame for as long as the watch runs
                yield synced
                del synced
            # Closed with the watch, not when the collector gets to it: the stream (an HTTP/2
            # stream sharing the connection) is reset as soon as the caller stops.
            async with contextlib.aclosing(
                _stream(client, resource, namespace, version, timing, label_selector=label_selector)
            ) as events:
                async for event in events:
                    obj = event.get("object") or {}
                    version = str(obj.get("metadata", {}).get("resourceVersion") or version)
                    if event["type"] != "BOOKMARK":
                        yield WatchEvent(str(event["type"]), object=obj)
                    backoff = 0.5
        except GoneError as gone:
            log.info("watch_relist", resource=resource.plural, reason=str(gone))
            version = None
        except (TimeoutError, aiohttp.ClientError, ApiException, OSError, ValueError) as error:
            log.warning("watch_retry", resource=resource.plural, error=str(error), backoff=backoff)
            await asyncio.sleep(backoff * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not crypto
            backoff = min(backoff * 2, 30.0)
            if isinstance(error, ApiException) and error.status == 410:
                version = None
