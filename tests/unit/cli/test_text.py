"""The views' plain-text building blocks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from canary.views.text import age, number, sparkline, table, truncate, value_range
from tests.unit.cli.objects import NOW


def test_a_table_aligns_columns_on_the_widest_cell() -> None:
    text = table(("NAME", "PHASE"), [["podinfo", "Progressing"], ["a", "Failed"]])
    assert text.splitlines() == [
        "NAME      PHASE",
        "podinfo   Progressing",
        "a         Failed",
    ]


def test_a_table_without_titles_keeps_only_the_rows() -> None:
    assert table(("", ""), [["x", "y"]], indent="  ", titled=False) == "  x   y"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (200, "3m20s"),
        (540, "9m"),
        (25 * 60, "25m"),
        (5 * 3600 + 600, "5h10m"),
        (30 * 3600, "30h"),
        (3 * 86400, "3d"),
        (3 * 86400 + 7200, "3d2h"),
        (40 * 86400, "40d"),
        (800 * 86400, "2y"),
    ],
)
def test_ages_read_as_kubectl_prints_them(seconds: int, expected: str) -> None:
    assert age(NOW - timedelta(seconds=seconds), NOW) == expected


def test_an_unknown_time_has_no_age_and_a_future_one_is_zero() -> None:
    assert age(None, NOW) == "-"
    assert age(NOW + timedelta(seconds=5), NOW) == "0s"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (100.0, "100"),
        (99.5, "99.5"),
        (12.345, "12.35"),
        (0.0012, "0.0012"),
        (0.0, "0"),
        (None, "-"),
    ],
)
def test_numbers_are_short(value: float | None, expected: str) -> None:
    assert number(value) == expected


def test_nan_is_no_number() -> None:
    assert number(float("nan")) == "-"


def test_ranges_name_the_bounds_that_are_set() -> None:
    assert value_range(99, None) == ">= 99"
    assert value_range(None, 500) == "<= 500"
    assert value_range(1, 5) == "1 to 5"
    assert value_range(None, None) == "-"


def test_truncation_keeps_one_line_and_marks_the_cut() -> None:
    assert truncate("a  b\nc", 10) == "a b c"
    assert truncate("abcdefghijkl", 6) == "abcde…"


def test_a_sparkline_scales_between_its_bounds_and_shows_gaps() -> None:
    assert sparkline([0, 50, 100, None, 200, -5], low=0, high=100) == "▁▅█ █▁"
    assert sparkline([7, 7], low=7, high=7) == "██"
