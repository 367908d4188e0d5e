"""Whether the Kubernetes API server answers: the controller's running record of its requests.

Every request the kube layer sends is registered while it waits (`waiting`) and judged when it
ends (`note`, called by `canary.kube.metrics.count_request`): no answer (a timeout, a refused or
reset connection), 429 and 5xx are failures; any other answer, even 404 or 409, shows that the
server works. From that record the controller learns two things it cannot see otherwise, because
it reads from watch caches that simply go quiet when the server hangs:

- whether the server failed since a moment (`trouble_since`): the heartbeat failed after it, or
  has waited longer than a bound. An analysis tick whose data was gathered in such a window is
  not counted (DESIGN.md §3, `canary.core.decide`). Only the heartbeat is evidence here: a
  request about one team's objects can fail or hang for reasons of that team's own (a slow
  admission webhook), which must not hold every other team's analysis;
- what /metrics and /healthz show: `canary_api_request_pending_seconds`, the age of the oldest
  request still waiting, and `problem()`.

`heartbeat` keeps one cheap request going (GET /version every second) while the controller has a
release under way (`wanted`), so a hung server shows within its timeout even when nothing else
would ask it. While no release is under way it asks nothing: an idle controller sends no request
at all, and only analysis ticks need the evidence. This module only records and reports;
what a failure means for a Canary is decided above it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Final

import structlog
from prometheus_client import Gauge

log = structlog.get_logger(__name__)

# A request still waiting for its answer after this many seconds counts as a failure already.
SLOW_ANSWER: Final = 5.0
HEARTBEAT_CALL: Final = "GET version"
HEARTBEAT_PERIOD: Final = 1.0
HEARTBEAT_TIMEOUT: Final = 5.0
HEARTBEAT_SLOW: Final = 2.0  # GET /version answers in milliseconds when the server works


@dataclass(frozen=True)
class Failure:
    at: float  # monotonic seconds
    call: str  # e.g. "PUT canaries/status"
    why: str  # e.g. "no answer", "HTTP 503"


class ApiServerAnswers:
    """The record of answers; `clock` is monotonic seconds (injected by the tests)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pending: dict[int, tuple[float, str]] = {}
        self._ids = itertools.count()
        self.last_failure: Failure | None = None
        self.last_answer: float | None = None
        self.last_heartbeat_failure: Failure | None = None

    @contextlib.contextmanager
    def waiting(self, call: str) -> Iterator[None]:
        """Register `call` as waiting for its answer until the block ends."""
        ticket = next(self._ids)
        self._pending[ticket] = (self._clock(), call)
        try:
            yield
        finally:
            self._pending.pop(ticket, None)

    def note(self, call: str, code: int | str) -> None:
        """The request `call` ended with HTTP `code`, or with no answer (0 or a non-number)."""
        status = code if isinstance(code, int) else 0
        if status in {0, 429} or status >= 500:
            why = "no answer" if status == 0 else f"HTTP {status}"
            self.last_failure = Failure(self._clock(), call, why)
            if call == HEARTBEAT_CALL:
                self.last_heartbeat_failure = self.last_failure
        else:
            self.last_answer = self._clock()

    def oldest_pending(self, call: str | None = None) -> tuple[float, str] | None:
        """(seconds waited, call) of the request (of `call`, if given) that has waited longest,
        or None."""
        waiting = [entry for entry in self._pending.values() if call in (None, entry[1])]
        if not waiting:
            return None
        started, name = min(waiting)
        return self._clock() - started, name

    def trouble_since(self, moment: float, *, slow: float = HEARTBEAT_SLOW) -> str:
        """Why the API server cannot be trusted to have worked since `moment` (monotonic), or
        "": the heartbeat failed after it, or has waited longer than `slow` seconds."""
        failure = self.last_heartbeat_failure
        if failure is not None and failure.at >= moment:
            ago = self._clock() - failure.at
            return f"the API server did not answer ({failure.why}) {ago:.0f} s ago"
        pending = self.oldest_pending(HEARTBEAT_CALL)
        if pending is not None and pending[0] > slow:
            return f"the API server has not answered for {pending[0]:.0f} s"
        return ""

    def problem(self, *, slow: float = SLOW_ANSWER) -> str | None:
        """Why the API server looks down now, or None: a request waits longer than `slow`
        seconds, or the latest request that ended got no answer (or 429/5xx)."""
        pending = self.oldest_pending()
        if pending is not None and pending[0] > slow:
            return f"the API server has not answered {pending[1]} for {pending[0]:.0f} s"
        failure = self.last_failure
        if failure is not None and (self.last_answer is None or failure.at > self.last_answer):
            return f"the API server failed {failure.call} ({failure.why})"
        return None


# The process's one record, fed by every request of the kube layer.
API_SERVER: Final = ApiServerAnswers()

API_PENDING: Final = Gauge(
    "canary_api_request_pending_seconds",
    "How long the oldest request to the Kubernetes API server still waiting for its answer has "
    "waited (0 when none waits); grows without bound while the API server hangs.",
)
API_PENDING.set_function(lambda: (API_SERVER.oldest_pending() or (0.0, ""))[0])


async def heartbeat(
    ask: Callable[[], Awaitable[object]],
    *,
    wanted: Callable[[], bool] = lambda: True,
    answers: ApiServerAnswers = API_SERVER,
    period: float = HEARTBEAT_PERIOD,
    within: float = HEARTBEAT_TIMEOUT,
) -> None:
    """Forever: `await ask()` (a cheap request, counted like any other) every `period` seconds
    while `wanted()`, bounded by `within` seconds; log once when the API server stops answering,
    once when it is back."""
    down = False
    while True:
        if not wanted():
            await asyncio.sleep(period)
            continue
        try:
            async with asyncio.timeout(within):
                await ask()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 - any failure is what is being watched for
            if isinstance(error, TimeoutError):  # cut short here: the request could not say so
                answers.note(HEARTBEAT_CALL, 0)
            if not down:
                log.warning("api_server_not_answering", error=str(error) or type(error).__name__)
            down = True
        else:
            if down:
                log.info("api_server_answering_again")
            down = False
        await asyncio.sleep(period)
