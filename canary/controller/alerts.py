"""Send a Canary's alerts: which events are worth a message, at which severity, to whom.

Each `analysis.alerts[]` entry names an AlertProvider and the lowest severity it wants. The
provider's address comes from its spec or from its Secret (`address`, optional `token`). A
provider that cannot be resolved (missing, its Secret missing, no address) is shown on the
Canary that uses it: `alerts_ready` gives the `AlertsReady` condition (False with the problem)
and `alert_warnings` the Warning event, once per distinct message. An alert never fails a
cycle, and a delivery that fails is logged.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import aiohttp
import structlog
from pydantic import ValidationError

from canary.api.alertprovider import AlertProvider
from canary.api.canary import Canary
from canary.api.status import CanaryStatus
from canary.api.status import ConditionType as StatusConditionType
from canary.core.conditions import Condition, ConditionStatus, ConditionType
from canary.core.model import Phase
from canary.kube import resources
from canary.kube.errors import KubeError
from canary.kube.resources import ALERT_PROVIDER, SECRET
from canary.notify import Alert, ProviderSettings, send

log = structlog.get_logger(__name__)

# The events people are told about, and how loudly.
SEVERITY_OF: Final = {
    "Synced": "info",
    "NewRevision": "info",
    "Waiting": "info",
    "WaitingPromotion": "info",
    "Succeeded": "info",
    "CheckFailed": "warn",
    "Rollback": "error",
    "DeadlineExceeded": "error",
    "Aborted": "error",
    "Retry": "info",
}
RANK: Final = {"info": 0, "warn": 1, "error": 2}
GATE_WAITS: Final = {"Waiting", "WaitingPromotion"}
ALERTS_USABLE: Final = "AlertProvidersUsable"


@dataclass(frozen=True)
class ProviderProblem:
    """Why an AlertProvider cannot be used: a CamelCase reason and a sentence."""

    reason: str
    message: str


def wanted(canary: Canary, reason: str) -> list[tuple[str, str]]:
    """(alert name, severity) of every alert that wants an event with `reason`."""
    severity = SEVERITY_OF.get(reason)
    if severity is None:
        return []
    muted = any(
        h.mute_alert for h in canary.spec.analysis.webhooks if h.type.startswith("confirm-")
    )
    if reason in GATE_WAITS and muted:
        return []
    return [
        (alert.name, severity)
        for alert in canary.spec.analysis.alerts
        if RANK[severity] >= RANK[alert.severity]
    ]


class AlertSender:
    def __init__(self, read: resources.Reader, *, cluster: str) -> None:
        self._read = read
        self._cluster = cluster or None
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def notify(self, canary: Canary, events: list[tuple[str, str]], *, phase: Phase) -> None:
        for reason, message in events:
            for name, severity in wanted(canary, reason):
                await self._send(canary, name, severity, message, phase=phase)

    async def check(
        self, canary: Canary, *, sending: bool
    ) -> dict[ConditionType, Condition | None]:
        """The `AlertsReady` condition for the status (see `alerts_ready`): {} keeps the one the
        status has. Providers are resolved when alerts are about to be sent, while the status
        has no verdict for this generation, and while it reports a problem (to see it fixed)."""
        if not canary.spec.analysis.alerts:
            return {ConditionType.ALERTS_READY: None}
        generation = canary.metadata.generation
        previous = canary.status.condition(StatusConditionType.ALERTS_READY)
        settled = (
            previous is not None
            and previous.status == "True"
            and previous.observed_generation == generation
        )
        if settled and not sending:
            return {}
        problems = []
        for entry in canary.spec.analysis.alerts:
            namespace = entry.provider_ref.namespace or canary.metadata.namespace
            resolved = await self._provider(namespace, entry.provider_ref.name)
            if isinstance(resolved, ProviderProblem):
                problems.append((entry.name, resolved))
        return {ConditionType.ALERTS_READY: alerts_ready(problems, generation)}

    async def _send(
        self, canary: Canary, name: str, severity: str, message: str, *, phase: Phase
    ) -> None:
        entry = next(a for a in canary.spec.analysis.alerts if a.name == name)
        namespace = entry.provider_ref.namespace or canary.metadata.namespace
        provider = await self._provider(namespace, entry.provider_ref.name)
        if isinstance(provider, ProviderProblem):
            log.warning(
                "alert_not_sent", alert=name, reason=provider.reason, error=provider.message
            )
            return
        alert = Alert(
            canary=canary.metadata.name,
            namespace=canary.metadata.namespace,
            cluster=self._cluster,
            phase=phase,
            severity=severity,  # type: ignore[arg-type]
            message=message,
        )
        if self._session is None:
            # No shared cap on connections: one Canary's hung receiver must not queue others'.
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        result = await send(provider, alert, session=self._session)
        log.info("alert_sent" if result.ok else "alert_failed", alert=name, message=result.message)

    async def _provider(self, namespace: str, name: str) -> ProviderSettings | ProviderProblem:
        where = f"AlertProvider {namespace}/{name}"
        try:
            return await self._settings(namespace, name, where=where)
        except KubeError as error:  # e.g. 403 on another namespace: an alert never fails a cycle
            return ProviderProblem("AlertProviderUnreadable", f"{where} cannot be read: {error}")

    async def _settings(
        self, namespace: str, name: str, *, where: str
    ) -> ProviderSettings | ProviderProblem:
        raw = await self._read(ALERT_PROVIDER, namespace, name)
        if raw is None:
            return ProviderProblem("AlertProviderNotFound", f"{where} does not exist")
        try:
            spec = AlertProvider.model_validate(raw).spec
        except ValidationError as error:
            return ProviderProblem("AlertProviderInvalid", f"{where} is invalid: {error}")
        address = token = None
        if spec.secret_ref is not None:
            found = await self._secret(namespace, spec.secret_ref.name, where=where)
            if isinstance(found, ProviderProblem):
                return found
            address, token = found
        try:
            return ProviderSettings.from_spec(spec, address=address, token=token)
        except ValueError as error:
            return ProviderProblem("AlertProviderInvalid", f"{where}: {error}")

    async def _secret(
        self, namespace: str, name: str, *, where: str
    ) -> tuple[str, str | None] | ProviderProblem:
        """The address and token a provider's Secret holds."""
        secret_name = f"Secret {namespace}/{name}"
        secret = await self._read(SECRET, namespace, name)
        if secret is None:
            return ProviderProblem(
                "AlertProviderSecretNotFound",
                f"{where}: its {secret_name} (spec.secretRef) does not exist",
            )
        data = secret.get("data") or {}
        try:
            address, token = _decoded(data.get("address")), _decoded(data.get("token"))
        except ValueError as error:
            return ProviderProblem(
                "AlertProviderInvalid", f"{where}: its {secret_name} is unreadable: {error}"
            )
        if not address:
            return ProviderProblem(
                "AlertProviderNoAddress",
                f"{where}: its {secret_name} has no `address` key; put the webhook URL there",
            )
        return address, token


def alerts_ready(problems: list[tuple[str, ProviderProblem]], generation: int) -> Condition:
    """`AlertsReady`: False with the first problem's reason and every problem's message (by
    alert name), or True when every alert's provider can be used."""
    if not problems:
        return Condition(
            ConditionType.ALERTS_READY,
            ConditionStatus.TRUE,
            ALERTS_USABLE,
            "Every alert's AlertProvider can be used.",
            generation,
        )
    message = "; ".join(f"alert {name!r}: {problem.message}" for name, problem in problems)
    return Condition(
        ConditionType.ALERTS_READY,
        ConditionStatus.FALSE,
        problems[0][1].reason,
        message + " (alerts to it are not sent; the release goes on)",
        generation,
    )


def alert_warnings(
    previous: CanaryStatus, notes: Mapping[ConditionType, Condition | None]
) -> list[tuple[str, str]]:
    """The Warning event (reason, message) to record for a new `AlertsReady` problem: one per
    distinct message, so a problem that stays is not repeated on every cycle."""
    new = notes.get(ConditionType.ALERTS_READY)
    if new is None or new.status is not ConditionStatus.FALSE:
        return []
    old = previous.condition(StatusConditionType.ALERTS_READY)
    if old is not None and old.status == "False" and old.message == new.message:
        return []
    return [(new.reason, new.message)]


def _decoded(value: object) -> str | None:
    """A Secret's value; ValueError when it is not base64 of UTF-8 text."""
    return base64.b64decode(str(value), validate=True).decode() if value else None
