"""Durations: what the pattern admits is exactly what `parse_duration` reads, in seconds."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from canary.api.durations import DURATION_PATTERN, cel_is_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("1h0m0.5s", 3600.5),
        ("0s", 0.0),
        ("10m10ms", 600.01),
    ],
)
def test_parses_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["", "5", "5mfoo", "1h30x", "-1s", "1d", "1us", " 1s", "1s ", ".5s", "1.s", "s"]
)
def test_refuses_anything_the_pattern_refuses(text: str) -> None:
    assert re.fullmatch(DURATION_PATTERN, text) is None
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNITS))), min_size=1))
def test_a_sequence_of_parts_is_the_sum_of_its_parts(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{amount}{unit}" for amount, unit in parts)
    assert re.fullmatch(DURATION_PATTERN, text)
    assert parse_duration(text) == pytest.approx(sum(a * UNITS[u] for a, u in parts))


def test_the_cel_test_embeds_the_pattern_as_a_cel_string() -> None:
    # CEL single-quoted strings take backslash escapes, as Python's do.
    assert cel_is_duration("self") == "self.matches('^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))+$')"
