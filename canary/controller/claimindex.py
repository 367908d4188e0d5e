"""Who claims what, for every Canary the watch cache holds: the ownership check's neighbours.

Before any write a cycle asks which other Canaries of its namespace claim one of the objects
it claims (`canary.controller.ownership`). Scanning the namespace for that costs a cycle time
in proportion to the number of Canaries there, which at a thousand was the largest part of a
cycle's CPU. This index is kept up to date by the cache itself (every put, deletion and relist
of a Canary passes through it), so the question costs the same with 10 or 10,000 Canaries.

`Scanned` answers the same questions from a plain list, for a namespace the watches have not
listed yet. This module holds no policy: the rules are `canary.controller.claims`'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from canary.controller.claims import Claimant

ClaimantOf = Callable[[Mapping[str, Any]], Claimant]
Held = tuple[str, tuple[str, str]]  # (namespace, (kind, name))


class Neighbours(Protocol):
    """The other Canaries of a Canary's namespace, as far as ownership needs them."""

    def sharing(self, ours: Claimant) -> Iterable[Claimant]:
        """The Canaries (`ours` not among them) that claim something `ours` claims."""
        ...

    def known(self, uid: str) -> bool:
        """Whether a Canary with this uid exists (for an owner reference that names one)."""
        ...


class Scanned:
    """`Neighbours` from every Canary of the namespace, looked through one by one."""

    def __init__(self, canaries: Sequence[Mapping[str, Any]], claimant_of: ClaimantOf) -> None:
        self._claimants = [claimant_of(raw) for raw in canaries]
        self._uids = {claimant.uid for claimant in self._claimants}

    def sharing(self, ours: Claimant) -> Iterable[Claimant]:
        return [
            other
            for other in self._claimants
            if other.uid != ours.uid and not ours.keys.isdisjoint(other.keys)
        ]

    def known(self, uid: str) -> bool:
        return uid in self._uids


class ClaimIndex:
    """`Neighbours` from an index by claimed object, fed by `canary.controller.cache`."""

    def __init__(self, claimant_of: ClaimantOf) -> None:
        self._claimant_of = claimant_of
        self._claimants: dict[str, Claimant] = {}  # uid -> its latest claims
        self._holders: dict[Held, set[str]] = {}  # a claimed object -> the uids claiming it

    def put(self, raw: Mapping[str, Any]) -> None:
        claimant = self._claimant_of(raw)
        if self._claimants.get(claimant.uid) == claimant:
            return  # the usual case: a status write, the claims unchanged
        self._forget(claimant.uid)
        self._claimants[claimant.uid] = claimant
        for key in claimant.keys:
            self._holders.setdefault((claimant.namespace, key), set()).add(claimant.uid)

    def delete(self, raw: Mapping[str, Any]) -> None:
        self._forget(str((raw.get("metadata") or {}).get("uid")))

    def replace(self, namespace: str | None, items: Iterable[Mapping[str, Any]]) -> None:
        """A relist of `namespace` (None: of every namespace)."""
        for uid in [
            uid
            for uid, claimant in self._claimants.items()
            if namespace is None or claimant.namespace == namespace
        ]:
            self._forget(uid)
        for raw in items:
            self.put(raw)

    def sharing(self, ours: Claimant) -> Iterable[Claimant]:
        uids: set[str] = set()
        for key in ours.keys:
            uids |= self._holders.get((ours.namespace, key), set())
        uids.discard(ours.uid)
        return [self._claimants[uid] for uid in uids]

    def known(self, uid: str) -> bool:
        return uid in self._claimants

    def _forget(self, uid: str) -> None:
        gone = self._claimants.pop(uid, None)
        if gone is None:
            return
        for key in gone.keys:
            holders = self._holders.get((gone.namespace, key))
            if holders is not None:
                holders.discard(uid)
                if not holders:
                    del self._holders[(gone.namespace, key)]
