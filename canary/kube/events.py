"""Kubernetes events on the objects the controller manages, as `kubectl describe` shows them.

Repeated and similar events are aggregated as client-go's event correlator does
(`canary.kube.correlator` decides): a repeat raises the `count` of the Event already recorded
(a PATCH, at most once a minute per Event) instead of creating another one, and so a thousand
Canaries in steady analysis do not spend a write per step on events. `flush_events` writes the
counts held back; the controller calls it on a timer (`flush_periodically`). Each API client has
its own correlator, as each client-go broadcaster has.

Recording an event is best effort: a failure is logged and never fails the reconcile that
wanted to record it. Credentials in URLs quoted by a message are masked before it is sent. It
is bounded like every request (`EVENT_TIMEOUT`): a hung API server costs a cycle that much, a
warning in the log and an `error` in `canary_api_requests_total`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from kubernetes_asyncio.client import ApiClient

from canary.core.redaction import redact_text
from canary.kube import resources
from canary.kube.correlator import EventCorrelator, EventKey, Write
from canary.kube.errors import KubeError, NotFound

COMPONENT = "canary-controller"
MAX_MESSAGE = 1024  # the API server rejects longer event messages
EVENT_TIMEOUT = 10.0  # seconds; an event is worth less than the cycle that records it
FLUSH_EVERY: Final = 10.0  # seconds between two looks for counts held back

EVENT: Final = resources.resource_kind("v1", "Event")

log = structlog.get_logger(__name__)

_correlators: weakref.WeakKeyDictionary[ApiClient, EventCorrelator] = weakref.WeakKeyDictionary()


def correlator_of(client: ApiClient) -> EventCorrelator:
    """The correlator of `client` (created on first use, with client-go's defaults)."""
    found = _correlators.get(client)
    if found is None:
        found = _correlators[client] = EventCorrelator()
    return found


def use_correlator(client: ApiClient, correlator: EventCorrelator) -> None:
    """Aggregate the events of `client` with `correlator` (other windows or intervals)."""
    _correlators[client] = correlator


async def record_event(
    client: ApiClient,
    involved: dict[str, Any],
    *,
    reason: str,
    message: str,
    warning: bool = False,
) -> None:
    """Record an event about `involved` (a whole object: apiVersion, kind, metadata): a new
    Event, a count on an existing one now, or a count written later (see the module)."""
    metadata = involved["metadata"]
    key = EventKey(
        namespace=str(metadata["namespace"]),
        kind=str(involved["kind"]),
        name=str(metadata["name"]),
        uid=str(metadata.get("uid") or ""),
        type="Warning" if warning else "Normal",
        reason=reason,
    )
    correlator = correlator_of(client)
    write = correlator.observe(
        key,
        redact_text(message)[:MAX_MESSAGE],
        involved=involved,
        now=datetime.now(UTC),
        clock=time.monotonic(),
    )
    if write is not None:
        await _send(client, correlator, write)


async def flush_events(client: ApiClient, *, everything: bool = False) -> int:
    """Write the counts held back whose Event may be written again (`everything`: all, when
    the controller stops); how many writes it sent."""
    correlator = correlator_of(client)
    writes = correlator.due(time.monotonic(), everything=everything)
    for write in writes:
        await _send(client, correlator, write)
    return len(writes)


async def flush_periodically(client: ApiClient, *, every: float = FLUSH_EVERY) -> None:
    """`flush_events` every `every` seconds, forever (a task of the controller)."""
    while True:
        await asyncio.sleep(every)
        await flush_events(client)


async def _send(client: ApiClient, correlator: EventCorrelator, write: Write) -> None:
    """Create or update the Event of `write`; a count on an Event the server no longer has
    creates it again (as client-go does). Failures are logged, never raised."""
    try:
        async with asyncio.timeout(EVENT_TIMEOUT):
            try:
                await _write(client, write)
            except NotFound:
                if write.create:
                    raise
                await _write(client, correlator.lost(write))
    except TimeoutError:
        correlator.failed(write)
        verb = "POST" if write.create else "PATCH"
        log.warning(
            "event_not_recorded",
            reason=write.key.reason,
            error=f"{verb} events: no answer within {EVENT_TIMEOUT:g} s",
        )
    except KubeError as error:
        correlator.failed(write)
        log.warning("event_not_recorded", reason=write.key.reason, error=str(error))


async def _write(client: ApiClient, write: Write) -> None:
    last = _timestamp(write.last)
    if not write.create:
        patch = {"count": write.count, "lastTimestamp": last, "message": write.message}
        await resources.merge_patch(
            client, EVENT, write.name, namespace=write.key.namespace, patch=patch
        )
        return
    involved = write.involved
    metadata = involved["metadata"]
    await resources.create(
        client,
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": write.name, "namespace": write.key.namespace},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": metadata["name"],
                "namespace": metadata["namespace"],
                "uid": metadata.get("uid"),
                "resourceVersion": metadata.get("resourceVersion"),
            },
            "reason": write.key.reason,
            "message": write.message,
            "type": write.key.type,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": _timestamp(write.first),
            "lastTimestamp": last,
            "count": write.count,
        },
    )


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
