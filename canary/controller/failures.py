"""Failures shown on the Canary itself, not only in the log: refused Canaries and failing cycles.

`refused_status` is the status of a Canary the controller will not or cannot move (an invalid
spec, a conflict, a cycle failing again and again): `Ready=False` and `Stalled=True` with the
reason and message, which kstatus (Flux, Argo CD) reads as Failed, observed at the Canary's
generation.

`FailureReporter` is told by the scheduler about every cycle that raised. After
`FAILURES_SHOWN` consecutive failures the Canary gets `refused_status` with reason
`ReconcileFailed` and the error, and a Warning event with the same; the event is repeated at
most once per `EVENT_EVERY` seconds for the same message, and the status is written only when
what it says changes. The next cycle that succeeds writes the status from the phase again,
which clears both conditions.

Writing may fail for the very reason the cycle failed (a hung or refusing API server): every
write here is best effort, bounded by `WRITE_TIMEOUT`, and never raises.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

import structlog

from canary.api.status import CanaryStatus
from canary.api.status import ConditionType as StatusConditionType
from canary.controller.convert import condition_manifests
from canary.controller.scheduler import Key
from canary.core.conditions import ConditionType, refused
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.events import record_event
from canary.kube.resources import CANARY, ResourceKind

log = structlog.get_logger(__name__)

RECONCILE_FAILED: Final = "ReconcileFailed"
FAILURES_SHOWN: Final = 4  # consecutive failed cycles (about 7 s of backoff) before showing them
EVENT_EVERY: Final = 300.0  # seconds between two Warning events with the same message
WRITE_TIMEOUT: Final = 5.0  # seconds for each best-effort write
MAX_MESSAGE: Final = 1024

Reader = Callable[[ResourceKind, str, str], Awaitable[dict[str, Any] | None]]


def refused_status(
    raw: dict[str, Any], *, reason: str, message: str, now: datetime
) -> dict[str, Any]:
    """`raw`'s status with `Ready=False` and `Stalled=True` for `reason` (and no `Reconciling`),
    observed at its generation; its other conditions and fields are kept."""
    status = dict(raw.get("status") or {})
    previous = list(status.get("conditions") or [])
    generation = int((raw.get("metadata") or {}).get("generation") or 0)
    replaced = {ConditionType.READY, ConditionType.STALLED, ConditionType.RECONCILING}
    kept = [c for c in previous if c.get("type") not in replaced]
    new = condition_manifests(refused(reason, message, generation), previous=previous, now=now)
    status["conditions"] = kept + [
        {**entry, "lastTransitionTime": _rfc3339(entry["lastTransitionTime"])} for entry in new
    ]
    status["observedGeneration"] = generation
    return status


def says(raw: dict[str, Any], *, reason: str, message: str) -> bool:
    """Whether `raw`'s status already says `refused_status(reason, message)`."""
    try:
        status = CanaryStatus.model_validate(raw.get("status") or {})
    except ValueError:
        return False
    ready = status.condition(StatusConditionType.READY)
    stalled = status.condition(StatusConditionType.STALLED)
    generation = int((raw.get("metadata") or {}).get("generation") or 0)
    return (
        ready is not None
        and stalled is not None
        and (ready.reason, ready.message, ready.status) == (reason, message, "False")
        and stalled.status == "True"
        and status.observed_generation == generation
    )


def describe(error: BaseException) -> str:
    """The error in a line: its own text, or its kind when it has none."""
    if isinstance(error, TimeoutError) and not str(error).strip():
        return "timed out"
    return (str(error).strip() or type(error).__name__)[:MAX_MESSAGE]


class FailureReporter:
    """Shows consecutive cycle failures on the Canary (see the module's docstring)."""

    def __init__(
        self,
        api: ApiClient,
        *,
        read: Reader,
        may_act: Callable[[], bool],
        remember: Callable[[dict[str, Any]], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._api = api
        self._read = read
        self._may_act = may_act
        self._remember = remember
        self._clock = clock
        self._events: dict[Key, tuple[str, float]] = {}  # the last event's message and time

    async def failed(self, key: Key, error: BaseException, failures: int) -> None:
        """Cycle number `failures` in a row of `key` raised `error`; never raises."""
        if failures < FAILURES_SHOWN or not self._may_act():
            return
        try:
            await self._show(key, failure_message(error))  # no count: the problem, not retries
        except Exception as problem:  # noqa: BLE001 - best effort: the loop must go on
            log.warning("reconcile_failure_not_shown", error=describe(problem))

    async def _show(self, key: Key, message: str) -> None:
        async with asyncio.timeout(WRITE_TIMEOUT):
            raw = await self._read(CANARY, key[0], key[1])
        if raw is None:
            return
        await self._event(key, raw, message)
        await self._condition(raw, message=message)

    def recovered(self, key: Key) -> None:
        """A cycle of `key` succeeded: a new run of failures is shown afresh."""
        self._events.pop(key, None)

    async def _event(self, key: Key, raw: dict[str, Any], message: str) -> None:
        last = self._events.get(key)
        now = self._clock()
        if last is not None and last[0] == message and now - last[1] < EVENT_EVERY:
            return
        self._events[key] = (message, now)
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                await record_event(
                    self._api, raw, reason=RECONCILE_FAILED, message=message, warning=True
                )
        except Exception as problem:  # noqa: BLE001 - best effort
            log.warning("reconcile_failure_event_not_recorded", error=describe(problem))

    async def _condition(self, raw: dict[str, Any], *, message: str) -> None:
        if says(raw, reason=RECONCILE_FAILED, message=message):
            return
        status = refused_status(
            raw, reason=RECONCILE_FAILED, message=message, now=datetime.now(UTC)
        )
        try:
            async with asyncio.timeout(WRITE_TIMEOUT):
                written = await resources.replace_status(
                    self._api, CANARY, {**raw, "status": status}
                )
        except Exception as problem:  # noqa: BLE001 - best effort (a 409 is retried next time)
            log.warning("reconcile_failure_status_not_written", error=describe(problem))
            return
        self._remember(written)


def failure_message(error: BaseException) -> str:
    """What the condition and the event say of a cycle failing again and again."""
    return f"reconcile cycles keep failing (retried with backoff): {describe(error)}"[:MAX_MESSAGE]


def _rfc3339(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value
