"""When the next reconcile cycle of a Canary is needed, from its phase and persisted state.

An idle Canary is looked at every `STEADY_RECHECK` seconds (watch events wake it sooner); one
under analysis when its next tick is due (from `last_step_at`, so restarts never make steps come
faster); one waiting on workloads every `WAITING_RECHECK` seconds, except a Canary waiting for
its primary, which its Deployment's watch events wake.

Pure arithmetic: the clock is passed in, nothing is scheduled here (the scheduler runs the next
cycle after the delay the cycle returns).
"""

from __future__ import annotations

from datetime import datetime

from canary.core.model import CanaryState, Phase, Policy
from canary.core.schedule import ANALYSING_PHASES

STEADY_RECHECK = 60.0  # seconds between cycles of an idle Canary (watch events wake it sooner)
WAITING_RECHECK = 1.0  # seconds between cycles while waiting on workloads


def next_delay(policy: Policy, state: CanaryState, now: datetime, *, polled: bool = False) -> float:
    """When the next cycle is needed. A target whose kind is not watched (`polled`) is looked
    at every analysis interval even when idle, as Flagger does: no event would say it changed."""
    if state.phase is Phase.INITIALIZING and state.hold_reason and not polled:
        # Waiting for the primary: its Deployment's watch events wake the cycle when it becomes
        # ready, so the clock only has to catch the progress deadline (a burst of Canaries
        # waiting on a slow cluster must not cost a cycle each every second).
        if state.stalled or state.phase_since is None:
            return STEADY_RECHECK
        deadline = (state.phase_since - now).total_seconds() + policy.progress_deadline
        return max(WAITING_RECHECK, min(deadline + WAITING_RECHECK, STEADY_RECHECK))
    if state.phase in ANALYSING_PHASES:
        if state.last_step_at is None:
            return WAITING_RECHECK
        due = (state.last_step_at - now).total_seconds() + policy.interval
        return max(0.05, min(due, policy.interval))
    if state.phase in {Phase.PROMOTING, Phase.FINALISING, Phase.INITIALIZING, Phase.WAITING}:
        return WAITING_RECHECK
    return min(STEADY_RECHECK, policy.interval) if polled else STEADY_RECHECK
