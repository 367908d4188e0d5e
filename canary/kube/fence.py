"""A client that sends no write while its process may not write: the transport's part in leader
election's promise that a replica which lost the lease stops acting at once.

The controller's one client is a `FencedApiClient`: every POST, PUT, PATCH and DELETE, whoever
sends it (a router, a target, a status write, an event), first asks `may_write`, which is
evaluated at that moment from the monotonic clock, not from a flag some task has yet to flip.
This matters after a process was paused (SIGSTOP, a stalled VM): when it resumes, every timer
is overdue at once and a reconcile cycle may run before the task that would notice the lost
lease. Reads are never refused: a waiting replica keeps its watches and caches warm.

Leader election is not fencing: a request already sent cannot be recalled. This only guarantees
that nothing new leaves the process. The Lease itself is written through another, unfenced
client (`canary.controller.leader`). This module must not decide who leads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlsplit

from kubernetes_asyncio.client import ApiClient, Configuration

from canary.kube.errors import KubeError

READS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class WriteRefusedError(KubeError):
    """A write was not sent: this process may not write now (it does not hold the lease)."""


class FencedApiClient(ApiClient):
    """An `ApiClient` that refuses every write for which `may_write()` answers False."""

    def __init__(self, configuration: Configuration, *, may_write: Callable[[], bool]) -> None:
        super().__init__(configuration)
        self._may_write = may_write

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        """As `ApiClient.request`, after asking `may_write` (raises `WriteRefusedError`)."""
        if method.upper() not in READS and not self._may_write():
            raise WriteRefusedError(
                f"{method} {urlsplit(url).path}: not sent, this replica is not the leader"
            )
        return super().request(method, url, *args, **kwargs)
