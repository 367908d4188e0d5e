"""Gates kept in one ConfigMap, so every replica agrees and a restart forgets nothing.

Flagger's load tester keeps gates in memory: a restart closes every gate it had opened, and two
replicas disagree (DESIGN.md §3 point 6). Here the state is the ConfigMap `canary-loadtester-gates`
in the load tester's namespace, one key per gate: `<kind>.<namespace>.<name>` = `open`. A missing
key is a closed gate. Every check reads the ConfigMap from the API server (no cache); every write
is a merge patch carrying the resourceVersion it read, retried on 409 (optimistic concurrency).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.errors import Conflict

CONFIG_MAP_NAME: Final = "canary-loadtester-gates"
OPEN: Final = "open"
_WRITE_ATTEMPTS: Final = 8
_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class GateKind(StrEnum):
    """`gate` for /gate/*, `rollback` for /rollback/*."""

    GATE = "gate"
    ROLLBACK = "rollback"


def gate_key(kind: GateKind, namespace: str, name: str) -> str:
    """The ConfigMap key of one canary's gate; ValueError for names Kubernetes would not allow."""
    for label, value in (("namespace", namespace), ("name", name)):
        if not value or len(value) > 253 or not _NAME.match(value):
            raise ValueError(f"invalid canary {label} {value!r}")
    return f"{kind.value}.{namespace}.{name}"


@dataclass(frozen=True)
class GateStore:
    """The gates of every canary, in the ConfigMap `name` of `namespace`."""

    api: ApiClient
    namespace: str
    name: str = CONFIG_MAP_NAME

    async def _read(self) -> dict[str, Any] | None:
        return await resources.get(
            self.api, resources.CONFIG_MAP, self.name, namespace=self.namespace
        )

    async def is_open(self, kind: GateKind, namespace: str, name: str) -> bool:
        """Whether the gate is open, as the API server says now (absent: closed)."""
        key = gate_key(kind, namespace, name)
        config_map = await self._read()
        data = (config_map or {}).get("data") or {}
        return data.get(key) == OPEN

    async def set_open(self, kind: GateKind, namespace: str, name: str, *, is_open: bool) -> None:
        """Open or close the gate; `canary.kube.errors.KubeError` when the API server refuses."""
        key = gate_key(kind, namespace, name)
        for attempt in range(1, _WRITE_ATTEMPTS + 1):
            config_map = await self._read()
            try:
                if config_map is None:
                    if not is_open:
                        return  # absent is closed
                    await resources.create(self.api, self._manifest({key: OPEN}))
                    return
                data = config_map.get("data") or {}
                if (data.get(key) == OPEN) == is_open:
                    return
                version = config_map["metadata"]["resourceVersion"]
                await resources.merge_patch(
                    self.api,
                    resources.CONFIG_MAP,
                    self.name,
                    namespace=self.namespace,
                    patch={
                        "metadata": {"resourceVersion": version},
                        "data": {key: OPEN if is_open else None},
                    },
                    field_manager="canary-loadtester",
                )
            except Conflict:
                if attempt == _WRITE_ATTEMPTS:
                    raise
            else:
                return
        raise AssertionError("unreachable")  # pragma: no cover

    def _manifest(self, data: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": {"app.kubernetes.io/managed-by": "canary-loadtester"},
            },
            "data": data,
        }
