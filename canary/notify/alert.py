"""What an alert says, independent of where it goes.

An `Alert` is built by the controller from a Canary's state (which phase, which check failed with
what value and range) and handed to every matching provider; the per-provider JSON is made from it
in `canary.notify.payloads`. It is a frozen value: no I/O, no clock, no Kubernetes objects.
"""

from __future__ import annotations

from dataclasses import dataclass

from canary.api.analysis import Severity
from canary.api.status import Phase

__all__ = ["Alert", "Severity"]


@dataclass(frozen=True, kw_only=True)
class Alert:
    """One notification about one Canary.

    `fields` are extra facts as (name, value) pairs in the order they are shown, e.g.
    `("Failed check", "error-rate")`, `("Value", "4.2")`, `("Range", "max 1")`.
    """

    canary: str
    namespace: str
    phase: Phase
    severity: Severity
    message: str
    cluster: str | None = None
    fields: tuple[tuple[str, str], ...] = ()

    @property
    def subject(self) -> str:
        """`<name>.<namespace>`, how every provider names the Canary (as Flagger does)."""
        return f"{self.canary}.{self.namespace}"

    def facts(self) -> tuple[tuple[str, str], ...]:
        """Everything shown beside the message: the cluster (when known), the phase, the
        severity, then `fields`."""
        head: list[tuple[str, str]] = []
        if self.cluster:
            head.append(("Cluster", self.cluster))
        head.append(("Phase", str(self.phase)))
        head.append(("Severity", self.severity))
        return (*head, *self.fields)
