"""The `coordination.k8s.io/v1` Lease of leader election: read it, create it, replace it.

Every write is guarded: `create` fails with `Conflict` when the Lease already exists, `replace`
when it changed since the version read, so of two replicas racing for the same Lease exactly one
wins. Only get, create and update are used, which is all the Role of the Helm chart grants. The
record is translated to and from the pure `LeaseRecord` of `canary.core.election`; what a record
means, and when to write one, is decided there and in `canary.controller.leader`, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from canary.core.election import LeaseRecord
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import LEASE


@dataclass(frozen=True)
class Lease:
    """A Lease as the API server returned it: its record, its resourceVersion and the whole
    object (a replacement keeps the labels and annotations others gave it)."""

    record: LeaseRecord
    version: str
    manifest: Mapping[str, Any]


@dataclass(frozen=True)
class LeaseStore:
    """The Lease `name` in `namespace`, through `api`."""

    api: ApiClient
    namespace: str
    name: str

    async def read(self) -> Lease | None:
        """The Lease, or None when it does not exist."""
        found = await resources.get(self.api, LEASE, self.name, namespace=self.namespace)
        return None if found is None else lease_of(found)

    async def create(self, record: LeaseRecord) -> Lease:
        """Create the Lease holding `record`; `Conflict` when it already exists."""
        manifest = {
            "apiVersion": LEASE.api_version,
            "kind": LEASE.kind,
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": spec_of(record),
        }
        return lease_of(await resources.create(self.api, manifest))

    async def replace(self, current: Lease, record: LeaseRecord) -> Lease:
        """Write `record` over `current`; `Conflict` when the Lease changed since it was read."""
        manifest = dict(current.manifest)
        manifest["metadata"] = {
            **(current.manifest.get("metadata") or {}),
            "resourceVersion": current.version,
        }
        manifest["spec"] = {**(current.manifest.get("spec") or {}), **spec_of(record)}
        return lease_of(await resources.replace(self.api, manifest))


def lease_of(manifest: Mapping[str, Any]) -> Lease:
    metadata = manifest.get("metadata") or {}
    return Lease(
        record=record_of(manifest.get("spec") or {}),
        version=str(metadata.get("resourceVersion") or ""),
        manifest=manifest,
    )


def record_of(spec: Mapping[str, Any]) -> LeaseRecord:
    """The record a Lease's spec states (absent fields read as empty)."""
    return LeaseRecord(
        holder=str(spec.get("holderIdentity") or ""),
        duration=int(spec.get("leaseDurationSeconds") or 0),
        acquired=_time(spec.get("acquireTime")),
        renewed=_time(spec.get("renewTime")),
        transitions=int(spec.get("leaseTransitions") or 0),
    )


def spec_of(record: LeaseRecord) -> dict[str, Any]:
    """A Lease's spec stating `record` (times as MicroTime, as client-go writes them)."""
    return {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": record.duration,
        "acquireTime": _micro_time(record.acquired),
        "renewTime": _micro_time(record.renewed),
        "leaseTransitions": record.transitions,
    }


def _micro_time(at: datetime | None) -> str | None:
    if at is None:
        return None
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
