"""Durations as users write them ("30s", "1m30s", "1.5h", "500ms") and as the controller uses them.

Flagger's pattern `^[0-9]+(m|s)` is open at the end ("5mfoo" passes) and refuses hours; it then
falls back to 60 s on anything it cannot parse. Here the pattern is anchored, and it accepts
exactly what the API server's CEL `duration()` accepts for these units, so a CEL rule can compare
durations and `parse_duration` never meets a string it cannot read.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import StringConstraints

DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
# A metric's interval is pasted into PromQL as a range (`rate(x[1m])`), so it must be a duration
# Prometheus reads: whole numbers, each unit at most once, largest first (`1h30m`, not `1.5h`
# nor `30m1h`). CEL's `duration()` reads each of them too.
PROMETHEUS_DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"

Duration = Annotated[str, StringConstraints(max_length=32, pattern=DURATION_PATTERN)]
PrometheusDuration = Annotated[
    str, StringConstraints(min_length=2, max_length=32, pattern=PROMETHEUS_DURATION_PATTERN)
]

_WHOLE = re.compile(DURATION_PATTERN)


def cel_is_duration(expression: str, pattern: str = DURATION_PATTERN) -> str:
    """A CEL test that `expression` matches `pattern`. A CEL rule must check it before calling
    `duration()`: the pattern's own error does not stop CEL rules from running, and
    `duration()` on a malformed string fails with a type-conversion error instead of the
    rule's message."""
    escaped = pattern.replace("\\", "\\\\")
    return f"{expression}.matches('{escaped}')"


_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_SECONDS_PER_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """`text` in seconds: "1m30s" is 90.0, "250ms" is 0.25. Raises ValueError on anything else."""
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"not a duration: {text!r} (expected e.g. 30s, 1m30s, 1.5h, 500ms)")
    return sum(float(amount) * _SECONDS_PER_UNIT[unit] for amount, unit in _PART.findall(text))
