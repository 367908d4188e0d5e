"""The rules of leader election over a Lease, as pure functions of what one replica has seen.

Client-go's approach, because it is the one that survives clock skew between machines: a replica
never compares the timestamps written in the Lease with its own clock. It notes, on its own
monotonic clock, when it first saw the Lease's record as it is now (`sight`); the lease has
expired when that record has not changed for the record's `leaseDurationSeconds` since
(`expired`). Another replica may take the Lease only then, or at once when it was released
(`may_claim`). The holder counts from the start of its last successful renewal: once that is
older than the renew deadline it must stop acting (`still_leading`). The renew deadline is
shorter than the lease duration, and the other replica cannot see the last renewal before it
was sent, so the holder has stopped before anyone else can see its lease expire. That holds
whatever the clocks of the machines read, though not if they run at very different rates, and
it is not fencing: writes already in flight when the holder stops can still land.

Nothing here reads a clock or does I/O: callers pass the monotonic `now` (seconds) and, for the
record's own timestamps, the wall-clock `at`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

# A waiting replica retries after retry period x [1, JITTER], so that replicas started together
# do not all ask at the same moment; the renew deadline must leave room for one such wait.
JITTER = 1.2
# A released Lease says so with no holder and the shortest duration the API allows.
RELEASED_DURATION = 1


@dataclass(frozen=True)
class Timing:
    """Seconds: how long a lease lasts unrenewed, how long the holder may go without renewing
    before it stops acting, and how often replicas try to renew or acquire."""

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if self.retry_period <= 0:
            raise ValueError(f"the retry period must be positive, got {self.retry_period:g} s")
        if self.renew_deadline <= JITTER * self.retry_period:
            raise ValueError(
                f"the renew deadline ({self.renew_deadline:g} s) must be longer than "
                f"{JITTER:g} times the retry period ({self.retry_period:g} s)"
            )
        if self.lease_duration <= self.renew_deadline:
            raise ValueError(
                f"the lease duration ({self.lease_duration:g} s) must be longer than the renew "
                f"deadline ({self.renew_deadline:g} s): the margin is what keeps two replicas "
                "from acting at once"
            )

    @property
    def duration_seconds(self) -> int:
        """The lease duration as the Lease states it (whole seconds, never shorter)."""
        return math.ceil(self.lease_duration)


@dataclass(frozen=True)
class LeaseRecord:
    """A Lease's spec: who holds it, for how long unrenewed, and since when."""

    holder: str = ""  # "" when nobody holds it (never held, or released)
    duration: int = RELEASED_DURATION  # leaseDurationSeconds
    acquired: datetime | None = None  # acquireTime
    renewed: datetime | None = None  # renewTime
    transitions: int = 0  # leaseTransitions: how often the holder changed


@dataclass(frozen=True)
class Sighting:
    """A record as this replica last read it, its resourceVersion, and since when (monotonic
    seconds on this replica's clock) the record has looked like this."""

    record: LeaseRecord
    version: str
    since: float


def sight(previous: Sighting | None, record: LeaseRecord, version: str, *, now: float) -> Sighting:
    """What is known after reading `record` at `now`: the expiry clock restarts only when the
    record changed since the previous sighting."""
    if previous is not None and previous.record == record:
        return replace(previous, version=version)
    return Sighting(record=record, version=version, since=now)


def expired(sighting: Sighting, *, now: float) -> bool:
    """Whether the holder has let its lease run out, by this replica's own clock."""
    return now >= sighting.since + sighting.record.duration


def may_claim(sighting: Sighting | None, *, identity: str, now: float) -> bool:
    """Whether `identity` may write itself into the Lease now: when there is no Lease yet, when
    nobody holds it, when `identity` already holds it, or when the holder's lease expired."""
    if sighting is None:
        return True
    holder = sighting.record.holder
    return holder in {"", identity} or expired(sighting, now=now)


def claim(
    current: LeaseRecord | None, *, identity: str, duration: int, at: datetime
) -> LeaseRecord:
    """The record that makes `identity` the holder at wall-clock `at`: a renewal keeps the
    acquisition time, a takeover starts a new one and counts a transition."""
    if current is not None and current.holder == identity:
        return replace(current, duration=duration, renewed=at)
    transitions = current.transitions + 1 if current is not None else 0
    return LeaseRecord(
        holder=identity, duration=duration, acquired=at, renewed=at, transitions=transitions
    )


def release(current: LeaseRecord, *, at: datetime) -> LeaseRecord:
    """The record of a holder stepping down: no holder, so another replica may take it at once."""
    return LeaseRecord(
        holder="",
        duration=RELEASED_DURATION,
        acquired=at,
        renewed=at,
        transitions=current.transitions,
    )


def still_leading(last_renewal: float | None, *, now: float, renew_deadline: float) -> bool:
    """Whether a holder whose last successful renewal started at `last_renewal` (monotonic
    seconds; None: never acquired) may still act at `now`."""
    return last_renewal is not None and now <= last_renewal + renew_deadline
