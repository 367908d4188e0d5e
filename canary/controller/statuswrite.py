"""The status write that ends a reconcile cycle: it records what the cycle did, so a 409 caused
only by an edit of the Canary's metadata or spec does not lose it.

A cycle reads the Canary, acts (sets the route, scales, promotes), then replaces the status
guarded by the resourceVersion it read. Any change to the object in between makes the API
server answer 409, and the actions are already in the cluster. Two kinds of change differ:

- The status itself changed (another writer recorded another state, or the copy read was
  behind on it): the cycle decided from a state that is no longer the Canary's. Its status
  must not be written; `Conflict` goes up, and the next cycle decides again from the fresh
  copy, repairing with absolute actions.
- Only the metadata or spec changed (`canary pause`, `spec.suspend`, a label a GitOps tool
  sets, a cached copy behind on such an edit): the state the cycle decided from is still the
  Canary's, and its actions were taken. The status is written again, unchanged, on the fresh
  copy. Dropping it would leave the status behind the route; a paused or suspended Canary runs
  no step that would repair it, so `canary status`, the dashboard and the metrics would show a
  weight the route does not carry, and a resume would start from it. The status keeps the
  `observedGeneration` of the copy the cycle acted on: a spec edit is observed by the next cycle.

This module writes a status already computed, or gives up with `Conflict` (`StatusMoved` when it
read the fresh copy, which it hands over); it decides nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import structlog

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.errors import Conflict, KubeError
from canary.kube.resources import CANARY

log = structlog.get_logger(__name__)

ATTEMPTS: Final = 3  # writes of one status: the first, and again after metadata or spec edits


class StatusMoved(Conflict):
    """409, and the API server's copy of the Canary has another status than the one the cycle
    decided from (or is gone: `fresh` is None). `fresh` is that copy, already read: the caller
    needs no other read to know what the Canary is now."""

    def __init__(self, conflict: Conflict, fresh: dict[str, Any] | None) -> None:
        super().__init__(conflict.message, status=conflict.status, reason=conflict.reason)
        self.fresh = fresh


async def write_cycle_status(
    api: ApiClient,
    read: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    ensure_acting: Callable[[], None],
) -> dict[str, Any]:
    """Replace the status of the Canary `read` (the copy the cycle decided from) with `status`;
    the object written. On 409, written again on the API server's copy while that copy's status
    is still `read`'s (see the module); else `StatusMoved`, or `Conflict` after `ATTEMPTS`.
    `ensure_acting` is asked before every write (it raises when this replica may not write)."""
    target: Mapping[str, Any] = read
    for attempt in range(1, ATTEMPTS):
        ensure_acting()
        try:
            return await resources.replace_status(api, CANARY, {**target, "status": status})
        except Conflict as conflict:
            try:
                fresh = await _fresh_copy(api, read)
            except KubeError as error:  # the cycle's own 409 handling reads it again
                log.warning("status_conflict_not_reread", error=str(error))
                raise conflict from error
            if fresh is None or not same_state(read, fresh):
                raise StatusMoved(conflict, fresh) from conflict
            log.info(
                "status_written_again_after_conflict",
                attempt=attempt + 1,
                resource_version=(fresh.get("metadata") or {}).get("resourceVersion"),
            )
            # Its managedFields left out, as in the cache: the API server then keeps its own.
            metadata = {k: v for k, v in fresh["metadata"].items() if k != "managedFields"}
            target = {**fresh, "metadata": metadata}
    ensure_acting()
    return await resources.replace_status(api, CANARY, {**target, "status": status})


def same_state(read: Mapping[str, Any], fresh: Mapping[str, Any]) -> bool:
    """Whether `fresh` is the same Canary as `read` with the same status: only its metadata or
    spec changed since `read` was taken."""
    uid_read = (read.get("metadata") or {}).get("uid")
    uid_fresh = (fresh.get("metadata") or {}).get("uid")
    return uid_read == uid_fresh and read.get("status") == fresh.get("status")


async def _fresh_copy(api: ApiClient, read: Mapping[str, Any]) -> dict[str, Any] | None:
    metadata = read.get("metadata") or {}
    return await resources.get(
        api, CANARY, str(metadata.get("name")), namespace=str(metadata.get("namespace"))
    )
