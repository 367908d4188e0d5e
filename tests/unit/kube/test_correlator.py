"""Event aggregation: repeats count on one Event, similar events combine past client-go's limit,
and writes of a count are coalesced to one per patch interval without losing any occurrence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from canary.kube.correlator import COMBINED_PREFIX, EventCorrelator, EventKey, Write

KEY = EventKey("shop", "Canary", "podinfo", "u-1", "Normal", "Advance")
T0 = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
INVOLVED = {"apiVersion": "canary.dev/v1alpha1", "kind": "Canary", "metadata": {}}


def _at(
    correlator: EventCorrelator, message: str, second: float, key: EventKey = KEY
) -> Write | None:
    now = T0 + timedelta(seconds=second)
    return correlator.observe(key, message, involved=INVOLVED, now=now, clock=second)


def test_a_new_event_is_created_at_once() -> None:
    write = _at(EventCorrelator(), "Advanced canary weight to 10", 0)
    assert write is not None
    assert (write.create, write.count, write.message) == (True, 1, "Advanced canary weight to 10")
    assert write.name.startswith("podinfo.")


def test_repeats_count_on_the_same_event_one_write_per_patch_interval() -> None:
    correlator = EventCorrelator(patch_interval=60)
    created = _at(correlator, "Waiting", 0)
    writes = [_at(correlator, "Waiting", second) for second in range(10, 130, 10)]

    sent = [w for w in writes if w is not None]
    assert created is not None
    assert [(w.create, w.count, w.name) for w in sent] == [
        (False, 7, created.name),  # at 60 s: six repeats held back, then this one
        (False, 13, created.name),  # at 120 s
    ]
    assert correlator.pending() == 0


def test_held_back_counts_are_written_when_due_and_nothing_is_lost() -> None:
    correlator = EventCorrelator(patch_interval=60)
    _at(correlator, "Waiting", 0)
    _at(correlator, "Waiting", 5)
    _at(correlator, "Waiting", 6)
    assert correlator.due(30) == []
    assert correlator.pending() == 2
    [write] = correlator.due(60)
    assert (write.create, write.count, write.last) == (False, 3, T0 + timedelta(seconds=6))
    assert correlator.due(200, everything=True) == []  # written: nothing more to send
    _at(correlator, "Waiting", 70)
    [last] = correlator.due(71, everything=True)  # a stopping controller sends it all
    assert last.count == 4


def test_similar_events_combine_past_the_limit_of_distinct_messages() -> None:
    correlator = EventCorrelator(max_similar=3, patch_interval=0)
    writes = [_at(correlator, f"Advanced canary weight to {w}", w) for w in (10, 20, 30, 40, 50)]

    assert [w.create for w in writes if w] == [True, True, True, True, False]
    combined = writes[3]
    assert combined is not None
    assert combined.message == COMBINED_PREFIX + "Advanced canary weight to 40"
    last = writes[4]
    assert last is not None
    assert (last.name, last.count) == (combined.name, 2)
    assert last.message == COMBINED_PREFIX + "Advanced canary weight to 50"


def test_other_reasons_objects_and_types_never_combine() -> None:
    correlator = EventCorrelator(max_similar=1)
    other = EventKey("shop", "Canary", "other", "u-2", "Normal", "Advance")
    assert _at(correlator, "a", 0) is not None
    write = _at(correlator, "a", 1, key=other)
    assert write is not None
    assert write.create


def test_an_event_unseen_for_the_window_starts_a_new_one() -> None:
    correlator = EventCorrelator(window=600)
    first = _at(correlator, "Waiting", 0)
    again = _at(correlator, "Waiting", 601)
    assert first is not None
    assert again is not None
    assert again.create
    assert again.name != first.name


def test_a_failed_create_is_created_again_and_a_failed_count_is_sent_again() -> None:
    correlator = EventCorrelator(patch_interval=60)
    created = _at(correlator, "Waiting", 0)
    assert created is not None
    correlator.failed(created)
    retried = _at(correlator, "Waiting", 1)
    assert retried is not None
    assert retried.create
    counted = _at(correlator, "Waiting", 70)
    assert counted is not None
    correlator.failed(counted)
    [resent] = correlator.due(71)
    assert (resent.create, resent.count) == (False, 2)


def test_a_lost_event_is_created_again_with_its_count() -> None:
    correlator = EventCorrelator(patch_interval=0)
    _at(correlator, "Waiting", 0)
    counted = _at(correlator, "Waiting", 1)
    assert counted is not None
    recreated = correlator.lost(counted)
    assert (recreated.create, recreated.count, recreated.name) == (True, 2, counted.name)


def test_the_cache_is_bounded() -> None:
    correlator = EventCorrelator(max_entries=2)
    for index in range(5):
        _at(correlator, "m", index, key=EventKey("ns", "Canary", f"c{index}", "", "Normal", "R"))
    assert len(correlator._series) == 2
