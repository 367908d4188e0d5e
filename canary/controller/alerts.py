"""Send a Canary's alerts: which events are worth a message, at which severity, to whom.

Each `analysis.alerts[]` entry names an AlertProvider and the lowest severity it wants. The
provider's address comes from its spec or from its Secret (`address`, optional `token`). A
provider that cannot be resolved or reached is logged; an alert never fails a cycle.
"""

from __future__ import annotations

import base64
from typing import Final

import aiohttp
import structlog
from pydantic import ValidationError

from canary.api.alertprovider import AlertProvider
from canary.api.canary import Canary
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

    async def _send(
        self, canary: Canary, name: str, severity: str, message: str, *, phase: Phase
    ) -> None:
        entry = next(a for a in canary.spec.analysis.alerts if a.name == name)
        namespace = entry.provider_ref.namespace or canary.metadata.namespace
        provider = await self._provider(namespace, entry.provider_ref.name)
        if provider is None:
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

    async def _provider(self, namespace: str, name: str) -> ProviderSettings | None:
        try:
            return await self._settings(namespace, name)
        except KubeError as error:  # e.g. 403 on another namespace: an alert never fails a cycle
            log.warning(
                "alert_provider_unreadable", provider=f"{namespace}/{name}", error=str(error)
            )
            return None

    async def _settings(self, namespace: str, name: str) -> ProviderSettings | None:
        raw = await self._read(ALERT_PROVIDER, namespace, name)
        if raw is None:
            log.warning("alert_provider_missing", provider=f"{namespace}/{name}")
            return None
        try:
            spec = AlertProvider.model_validate(raw).spec
            address = token = None
            if spec.secret_ref is not None:
                secret = await self._read(SECRET, namespace, spec.secret_ref.name)
                data = (secret or {}).get("data") or {}
                address = _decoded(data.get("address"))
                token = _decoded(data.get("token"))
            return ProviderSettings.from_spec(spec, address=address, token=token)
        except (ValidationError, ValueError) as error:
            log.warning("alert_provider_unusable", provider=f"{namespace}/{name}", error=str(error))
            return None


def _decoded(value: object) -> str | None:
    return base64.b64decode(str(value)).decode() if value else None
