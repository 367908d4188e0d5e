"""The rules of leader election: expiry by the local clock, acquisition, renewal, the renew
deadline. `now` is a replica's monotonic clock; the Lease's own timestamps are wall-clock times
written by other machines and must never decide anything."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from canary.core.election import (
    RELEASED_DURATION,
    LeaseRecord,
    Sighting,
    Timing,
    claim,
    expired,
    may_claim,
    release,
    sight,
    still_leading,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ME = "replica-a_10_aaaaaa"
OTHER = "replica-b_20_bbbbbb"
HELD = LeaseRecord(holder=OTHER, duration=15, acquired=T0, renewed=T0, transitions=3)


def seen(record: LeaseRecord, *, since: float, version: str = "1") -> Sighting:
    return Sighting(record=record, version=version, since=since)


# --- expiry is timed on the local clock, from when the record last changed --------------------


@pytest.mark.parametrize(
    ("now", "is_expired"),
    [(100.0, False), (114.9, False), (115.0, True), (500.0, True)],
)
def test_a_lease_expires_its_duration_after_this_replica_saw_it_change(
    now: float, *, is_expired: bool
) -> None:
    assert expired(seen(HELD, since=100.0), now=now) is is_expired


def test_seeing_the_same_record_again_does_not_restart_the_expiry_clock() -> None:
    first = sight(None, HELD, "7", now=100.0)
    again = sight(first, HELD, "8", now=110.0)  # e.g. a label changed: same record
    assert again.since == 100.0
    assert again.version == "8"  # the version to guard the next write with
    assert expired(again, now=115.0)


def test_a_renewal_restarts_the_expiry_clock() -> None:
    first = sight(None, HELD, "7", now=100.0)
    renewed = replace(HELD, renewed=T0 + timedelta(seconds=2))
    later = sight(first, renewed, "9", now=112.0)
    assert later.since == 112.0
    assert not expired(later, now=126.0)
    assert expired(later, now=127.0)


@pytest.mark.parametrize("skew", [timedelta(hours=-3), timedelta(0), timedelta(hours=5)])
def test_the_leases_own_timestamps_never_decide_expiry(skew: timedelta) -> None:
    """A holder whose clock is hours off in either direction: only local observation counts."""
    record = replace(HELD, acquired=T0 + skew, renewed=T0 + skew)
    sighting = sight(None, record, "1", now=50.0)
    assert not may_claim(sighting, identity=ME, now=64.0)
    assert may_claim(sighting, identity=ME, now=65.0)


def test_the_records_duration_counts_not_the_waiting_replicas() -> None:
    short = replace(HELD, duration=4)
    assert may_claim(seen(short, since=0.0), identity=ME, now=4.0)
    assert not may_claim(seen(HELD, since=0.0), identity=ME, now=4.0)


# --- who may claim the Lease ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sighting", "now", "allowed"),
    [
        pytest.param(None, 0.0, True, id="no Lease yet"),
        pytest.param(seen(LeaseRecord(), since=0.0), 0.0, True, id="never held"),
        pytest.param(seen(release(HELD, at=T0), since=0.0), 0.0, True, id="released"),
        pytest.param(seen(replace(HELD, holder=ME), since=0.0), 1.0, True, id="held by me"),
        pytest.param(seen(HELD, since=0.0), 14.0, False, id="held by another, fresh"),
        pytest.param(seen(HELD, since=0.0), 15.0, True, id="held by another, expired"),
    ],
)
def test_who_may_claim(sighting: Sighting | None, now: float, *, allowed: bool) -> None:
    assert may_claim(sighting, identity=ME, now=now) is allowed


def test_claiming_a_lease_from_another_holder_is_a_transition() -> None:
    at = T0 + timedelta(minutes=1)
    record = claim(HELD, identity=ME, duration=15, at=at)
    assert record == LeaseRecord(holder=ME, duration=15, acquired=at, renewed=at, transitions=4)


def test_the_first_claim_starts_the_count_at_zero() -> None:
    record = claim(None, identity=ME, duration=6, at=T0)
    assert record == LeaseRecord(holder=ME, duration=6, acquired=T0, renewed=T0, transitions=0)


def test_a_renewal_keeps_the_acquisition_and_the_count() -> None:
    mine = replace(HELD, holder=ME)
    at = T0 + timedelta(seconds=2)
    record = claim(mine, identity=ME, duration=15, at=at)
    assert record == replace(mine, renewed=at)


def test_a_release_names_no_holder_and_keeps_the_count() -> None:
    at = T0 + timedelta(seconds=30)
    record = release(replace(HELD, holder=ME), at=at)
    assert record.holder == ""
    assert record.duration == RELEASED_DURATION
    assert record.transitions == HELD.transitions
    assert record.renewed == at


# --- the renew deadline -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_renewal", "now", "leading"),
    [
        pytest.param(None, 0.0, False, id="never acquired"),
        pytest.param(100.0, 100.0, True, id="just renewed"),
        pytest.param(100.0, 110.0, True, id="at the deadline"),
        pytest.param(100.0, 110.001, False, id="past the deadline"),
        pytest.param(100.0, 1e6, False, id="after a long pause"),
    ],
)
def test_the_holder_acts_until_the_renew_deadline(
    last_renewal: float | None, now: float, *, leading: bool
) -> None:
    assert still_leading(last_renewal, now=now, renew_deadline=10.0) is leading


def test_the_holder_stops_before_anyone_can_see_its_lease_expire() -> None:
    """The safety argument, with the default timing: the renewal that started at `sent` cannot
    be seen by another replica before `sent`; that replica claims no sooner than a lease
    duration after seeing it, and the holder has stopped a renew deadline after `sent`."""
    timing = Timing()
    sent = 1000.0
    seen_by_other = sent  # the earliest possible moment
    record = claim(None, identity=OTHER, duration=timing.duration_seconds, at=T0)
    sighting = sight(None, record, "1", now=seen_by_other)
    first_claim = sighting.since + record.duration
    assert not may_claim(sighting, identity=ME, now=first_claim - 0.001)
    assert not still_leading(sent, now=first_claim, renew_deadline=timing.renew_deadline)
    assert first_claim - (sent + timing.renew_deadline) == pytest.approx(5.0)


# --- timing -----------------------------------------------------------------------------------


def test_the_default_timing_is_client_gos() -> None:
    assert Timing() == Timing(lease_duration=15.0, renew_deadline=10.0, retry_period=2.0)
    assert Timing(lease_duration=4.5, renew_deadline=3, retry_period=1).duration_seconds == 5


@pytest.mark.parametrize(
    ("lease", "renew", "retry", "message"),
    [
        (15, 15, 2, "must be longer than the renew deadline"),
        (10, 15, 2, "must be longer than the renew deadline"),
        (15, 2.4, 2, "must be longer than 1.2 times the retry period"),
        (15, 10, 0, "must be positive"),
    ],
)
def test_timing_that_could_let_two_replicas_act_is_refused(
    lease: float, renew: float, retry: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Timing(lease_duration=lease, renew_deadline=renew, retry_period=retry)
