"""How long one reconcile cycle of a Canary may take before it is cut short.

A cycle's own work (a few API requests, metric queries bounded by the Prometheus timeout) takes
well under a second; what can make it long is the Canary's webhooks, each allowed its `timeout`
for every one of its `retries + 1` attempts, with a backoff between attempts. The bound is the
controller's `--cycle-timeout` for the cycle's own work plus the worst case of every webhook the
Canary declares (event hooks twice: a cycle may record more than one event), so a Canary whose
webhooks hang at their limits still completes its cycles, and is judged for it, while a cycle
stuck on anything else is cut short. A cut cycle is retried later: every action is absolute and
idempotent and the status is written last, so the cut leaves nothing half done.

Computed from the raw object (before validation, which the cycle itself reports): fields that
cannot be read count as their defaults. Pure arithmetic: no I/O, no decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from canary.api.durations import parse_duration

DEFAULT_WEBHOOK_TIMEOUT: Final = 10.0  # seconds, as canary.api.analysis.Webhook
MAX_RETRIES: Final = 5  # as the API's bound on `retries`
BACKOFF_CAP: Final = 10.0  # the webhook client's largest delay between attempts


def webhook_worst_case(hook: Mapping[str, Any]) -> float:
    """Seconds one call of `hook` may take: every attempt timing out, every backoff waited."""
    try:
        timeout = parse_duration(str(hook["timeout"])) if "timeout" in hook else None
    except ValueError:
        timeout = None
    retries = hook.get("retries")
    attempts = 1 + (min(MAX_RETRIES, retries) if isinstance(retries, int) and retries > 0 else 0)
    waits = sum(min(BACKOFF_CAP, 2.0 ** (n - 1)) for n in range(1, attempts))
    return (timeout or DEFAULT_WEBHOOK_TIMEOUT) * attempts + waits


def cycle_budget(canary: Mapping[str, Any], *, base: float) -> float:
    """Seconds a cycle of the Canary `canary` (a raw object) may take (see the module)."""
    spec = canary.get("spec")
    analysis = spec.get("analysis") if isinstance(spec, Mapping) else None
    hooks = analysis.get("webhooks") if isinstance(analysis, Mapping) else None
    total = base
    for hook in hooks if isinstance(hooks, list) else ():
        if isinstance(hook, Mapping):
            calls = 2 if hook.get("type") == "event" else 1
            total += calls * webhook_worst_case(hook)
    return total
