"""What /healthz reports: named liveness checks, each saying why the process is broken or None.

Liveness means "restart me": a check belongs here only when restarting the process is the cure,
such as an event loop that stopped turning or a task that should run forever and has ended.
What a restart cannot cure (an unreachable API server, a broken Prometheus) must not fail
/healthz, or every replica would restart in a loop; that is /readyz's and the metrics' job.

A check is called from the /healthz handler on the event loop, so it must be cheap and must not
await or block.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["Check", "Health"]

# Why the process is unhealthy, or None when it is fine.
Check = Callable[[], str | None]


class Health:
    def __init__(self, checks: Mapping[str, Check] | None = None) -> None:
        self._checks: dict[str, Check] = dict(checks or {})

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def problems(self) -> list[str]:
        """`name: why` for every failing check (a check that raises fails with the error)."""
        found: list[str] = []
        for name, check in sorted(self._checks.items()):
            try:
                why = check()
            except Exception as error:  # noqa: BLE001 - a broken check is itself a failure
                why = f"the check raised {error!r}"
            if why is not None:
                found.append(f"{name}: {why}")
        return found
