"""The demo's live view of one Canary: phase, traffic split, and every check against its range."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

BAR = 40


def render(canary: dict[str, Any] | None, *, elapsed: float) -> Group:
    if canary is None:
        return Group(Text("waiting for the Canary to appear..."))
    spec, status = canary.get("spec") or {}, canary.get("status") or {}
    analysis = spec.get("analysis") or {}
    phase = status.get("phase") or "Initializing"
    weight = int(status.get("canaryWeight") or 0)
    conditions: list[dict[str, Any]] = status.get("conditions") or []
    ready: dict[str, Any] = next((c for c in conditions if c.get("type") == "Ready"), {})
    header = Text.assemble(
        ("canary/podinfo  ", "bold"),
        (f"{phase:<16}", _phase_style(phase)),
        f"failed checks {status.get('failedChecks', 0)}/{analysis.get('threshold', 1)}   ",
        f"{elapsed:5.1f} s",
    )
    filled = round(BAR * weight / 100)
    split = Text.assemble(
        ("primary ", "bold"),
        (f"{100 - weight:3d}% ", "cyan"),
        ("█" * (BAR - filled), "cyan"),
        ("█" * filled, "magenta"),
        (f" {weight:3d}%", "magenta"),
        (" canary", "bold"),
    )
    checks = Table(box=None, pad_edge=False)
    for column in ("check", "value", "range", "verdict", "detail"):
        checks.add_column(column)
    for check in status.get("checks") or []:
        value = check.get("value")
        verdict = check.get("verdict", "")
        checks.add_row(
            check.get("name", ""),
            "no value" if value is None else f"{value:.2f}",
            _range(check.get("min"), check.get("max")),
            Text(verdict, style="green" if verdict == "Pass" else "red"),
            Text(str(check.get("message", ""))[:70], overflow="ellipsis"),
        )
    message = Text(str(ready.get("message", "")), style="dim")
    return Group(header, split, checks, message)


def _range(minimum: float | None, maximum: float | None) -> str:
    low = "" if minimum is None else f"{minimum:g}"
    high = "" if maximum is None else f"{maximum:g}"
    return f"[{low or '-inf'}, {high or '+inf'}]"


def _phase_style(phase: str) -> str:
    return {"Succeeded": "bold green", "Failed": "bold red", "Progressing": "bold yellow"}.get(
        phase, "bold"
    )
