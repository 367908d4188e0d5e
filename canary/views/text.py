"""Plain-text building blocks of the views: aligned tables, ages, numbers, times, sparklines.

The output is read in terminals and in CI logs alike, so it is plain text: no colours and no
cursor movement. Everything here is pure; callers pass the current time in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

GAP = "   "
ELLIPSIS = "…"
TICK = "✓"
CROSS = "✗"
SPARKS = "▁▂▃▄▅▆▇█"
NO_VALUE = "-"

_MINUTE, _HOUR, _DAY, _YEAR = 60, 3600, 86400, 365 * 86400


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, indent: str = "", titled: bool = True
) -> str:
    """Columns aligned on the widest cell, separated by three spaces (as kubectl prints); the
    header line left out unless `titled`."""
    body = [list(row) for row in rows]
    widths = [len(header) if titled else 0 for header in headers]
    for row in body:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    lines = [
        indent + GAP.join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in ([list(headers)] if titled else []) + body
    ]
    return "\n".join(line.rstrip() for line in lines)


def fields(pairs: Iterable[tuple[str, str]], *, indent: str = "") -> str:
    """`Label:  value` lines with the values aligned, as `kubectl describe` prints them."""
    listed = list(pairs)
    width = max((len(label) for label, _ in listed), default=0) + 2
    return "\n".join(f"{indent}{label + ':':<{width}}{value}".rstrip() for label, value in listed)


def truncate(text: str, limit: int) -> str:
    """`text` on one line (whitespace collapsed), cut to `limit` characters with an ellipsis."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def age(since: datetime | None, now: datetime) -> str:  # noqa: PLR0911 - one return per scale
    """How long ago `since` was, as kubectl prints ages: 45s, 3m20s, 25m, 5h10m, 3d, 2y."""
    if since is None:
        return NO_VALUE
    seconds = max(int((now - since).total_seconds()), 0)
    if seconds < 2 * _MINUTE:
        return f"{seconds}s"
    minutes, hours, days = seconds // _MINUTE, seconds // _HOUR, seconds // _DAY
    if seconds < 10 * _MINUTE:
        rest = seconds % _MINUTE
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    if seconds < 3 * _HOUR:
        return f"{minutes}m"
    if seconds < 8 * _HOUR:
        rest = minutes % 60
        return f"{hours}h{rest}m" if rest else f"{hours}h"
    if seconds < 2 * _DAY:
        return f"{hours}h"
    if seconds < 8 * _DAY:
        rest = hours % 24
        return f"{days}d{rest}h" if rest else f"{days}d"
    if seconds < 2 * _YEAR:
        return f"{days}d"
    return f"{seconds // _YEAR}y"


def clock(moment: datetime | None) -> str:
    """`moment` as HH:MM:SS in UTC (the views say once that times are UTC)."""
    return NO_VALUE if moment is None else moment.strftime("%H:%M:%S")


def number(value: float | None) -> str:
    """A measured value, short: 99.5, 100, 12.34, 0.0012; `-` when there is none."""
    if value is None or not math.isfinite(value):
        return NO_VALUE
    if value != 0 and abs(value) < 0.01:
        return f"{value:.2g}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def value_range(minimum: float | None, maximum: float | None) -> str:
    """A check's accepted range: `>= 99`, `<= 500`, `1 to 5`, or `-` without bounds."""
    if minimum is not None and maximum is not None:
        return f"{number(minimum)} to {number(maximum)}"
    if minimum is not None:
        return f">= {number(minimum)}"
    if maximum is not None:
        return f"<= {number(maximum)}"
    return NO_VALUE


def sparkline(values: Sequence[float | None], *, low: float, high: float) -> str:
    """One block character per value, scaled from `low` (▁) to `high` (█); a space for a gap."""
    span = high - low
    marks = []
    for value in values:
        if value is None or not math.isfinite(value):
            marks.append(" ")
            continue
        share = 1.0 if span <= 0 else (min(max(value, low), high) - low) / span
        marks.append(SPARKS[round(share * (len(SPARKS) - 1))])
    return "".join(marks)
