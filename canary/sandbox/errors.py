"""The sandbox's one error type: every failure names the step that failed and where its log is."""

from __future__ import annotations

from pathlib import Path


class SandboxError(Exception):
    """A sandbox step failed; `step` names it and `log` points at what it wrote, when it did."""

    def __init__(self, step: str, message: str, *, log: Path | None = None) -> None:
        self.step = step
        self.log = log
        where = f" (log: {log})" if log is not None else ""
        super().__init__(f"{step}: {message}{where}")
