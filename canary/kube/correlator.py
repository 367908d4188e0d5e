"""Event aggregation, as client-go's EventCorrelator does it: which Event object an occurrence
counts on, and when that object must be written.

- **Repeats** (same object, type, reason and message) count on the Event already recorded: its
  `count` goes up and its `lastTimestamp` moves, instead of a new Event (client-go's
  eventLogger).
- **Similar events** (same object, type and reason, other messages): once more than
  `max_similar` distinct messages were seen within `window`, the next ones count on one Event
  whose message is `COMBINED_PREFIX` + the latest (client-go's EventAggregator, with its
  defaults: 10 messages within 10 minutes).
- **Writes are coalesced**: an Event is created at once, but the count of an existing one is
  written at most once per `patch_interval` (as events.k8s.io's series are refreshed on a timer
  rather than per occurrence); what was counted in between goes out with the next write, or
  with `due()` which the recorder calls on a timer. Nothing is dropped, unlike client-go's spam
  filter: a late count is still written.

An occurrence older than `window` since the last one starts a new Event. The cache is bounded
(`max_entries`, least recently used out), like client-go's LRU.

Pure: no I/O, the clocks are passed in; `canary.kube.events` sends what this decides.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final

COMBINED_PREFIX: Final = "(combined from similar events): "
WINDOW: Final = 600.0  # seconds: client-go's maxIntervalInSeconds
MAX_SIMILAR: Final = 10  # client-go's maxEvents
PATCH_INTERVAL: Final = 60.0  # seconds between two writes of one Event's count
MAX_ENTRIES: Final = 4096  # client-go's cache size


@dataclass(frozen=True)
class EventKey:
    """What makes two events similar: the object, the type and the reason."""

    namespace: str
    kind: str
    name: str
    uid: str
    type: str
    reason: str


@dataclass(frozen=True)
class Write:
    """Create the Event `name` (`create`), or update its count, message and last time."""

    key: EventKey
    name: str
    message: str
    count: int
    first: datetime
    last: datetime
    create: bool
    involved: dict[str, Any] = field(compare=False)


@dataclass
class _Series:
    """One Event object on the server and what has been counted on it."""

    name: str
    message: str
    count: int
    first: datetime
    last: datetime
    seen_at: float  # the monotonic clock at the last occurrence
    written: int = 0  # the count the server has
    written_at: float = float("-inf")  # the monotonic clock at the last write
    involved: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Similar:
    messages: OrderedDict[str, float] = field(default_factory=OrderedDict)  # message -> seen_at


class EventCorrelator:
    """Decides, for each occurrence of an event, which write (if any) to send now."""

    def __init__(
        self,
        *,
        window: float = WINDOW,
        max_similar: int = MAX_SIMILAR,
        patch_interval: float = PATCH_INTERVAL,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.window = window
        self.max_similar = max_similar
        self.patch_interval = patch_interval
        self.max_entries = max_entries
        self._series: OrderedDict[tuple[EventKey, str], _Series] = OrderedDict()
        self._similar: OrderedDict[EventKey, _Similar] = OrderedDict()

    def observe(
        self,
        key: EventKey,
        message: str,
        *,
        involved: dict[str, Any],
        now: datetime,
        clock: float,
    ) -> Write | None:
        """Count one occurrence at `now` (wall) / `clock` (monotonic); the write to send now."""
        local = message if not self._combines(key, message, clock) else None
        series_key = (key, local if local is not None else COMBINED_PREFIX)
        shown = message if local is not None else COMBINED_PREFIX + message
        series = self._series.get(series_key)
        if series is None or clock - series.seen_at > self.window:
            series = _Series(
                name=f"{key.name}.{secrets.token_hex(8)}",
                message=shown,
                count=1,
                first=now,
                last=now,
                seen_at=clock,
                involved=involved,
            )
            self._remember(self._series, series_key, series)
            return self._write(series_key, series, clock, create=True)
        series.count += 1
        series.message, series.last, series.seen_at = shown, now, clock
        series.involved = involved
        self._series.move_to_end(series_key)
        if clock - series.written_at < self.patch_interval:
            return None  # counted: written by the next write or by `due`
        return self._write(series_key, series, clock, create=False)

    def due(self, clock: float, *, everything: bool = False) -> list[Write]:
        """The counts not yet written whose Event may be written again now (`everything`: all
        of them, as a controller that stops does)."""
        return [
            self._write(series_key, series, clock, create=False)
            for series_key, series in list(self._series.items())
            if series.count > series.written
            and (everything or clock - series.written_at >= self.patch_interval)
        ]

    def pending(self) -> int:
        """Occurrences counted but not yet written."""
        return sum(series.count - series.written for series in self._series.values())

    def failed(self, write: Write) -> None:
        """`write` was not accepted: a create is tried again as a new Event next time, a count
        goes out again with the next write."""
        for series_key, series in self._series.items():
            if series.name == write.name:
                if write.create:
                    del self._series[series_key]
                else:  # counts are absolute: the next write carries this one's too
                    series.written, series.written_at = 0, float("-inf")
                return

    def lost(self, write: Write) -> Write:
        """The Event of `write` is gone from the server (expired, deleted): create it again."""
        return replace(write, create=True)

    def _combines(self, key: EventKey, message: str, clock: float) -> bool:
        """Whether `message` counts on the combined Event of `key` (too many similar ones)."""
        similar = self._similar.get(key)
        if similar is None:
            similar = _Similar()
            self._remember(self._similar, key, similar)
        self._similar.move_to_end(key)
        for old, seen in list(similar.messages.items()):
            if clock - seen > self.window:
                del similar.messages[old]
        if message in similar.messages or len(similar.messages) < self.max_similar:
            similar.messages[message] = clock
            similar.messages.move_to_end(message)
            return False
        return True

    def _write(
        self, series_key: tuple[EventKey, str], series: _Series, clock: float, *, create: bool
    ) -> Write:
        series.written, series.written_at = series.count, clock
        return Write(
            key=series_key[0],
            name=series.name,
            message=series.message,
            count=series.count,
            first=series.first,
            last=series.last,
            create=create,
            involved=series.involved,
        )

    def _remember(self, cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > self.max_entries:
            cache.popitem(last=False)
