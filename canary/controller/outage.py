"""Whether a Canary's cycle gathered its data while the controller could write: the shell's half
of "an API server outage is never a verdict" (the decision is rule 5 of `canary.core.decide`).

The cycle reads Canaries and workloads from the watch caches, which simply go quiet when the API
server hangs; checks would still run, against a route that cannot change, and their "no data"
would count once the server answered again. So each Canary remembers when its last successful
status write began (`written`), and a cycle asks `trouble`: did any request to the API server
fail, or has one waited too long (`canary.kube.answers`), since then? If so, the tick is held:
nothing gathered in that window counts, and the next tick comes a full interval after the
status write that ends the hold. A single failed request costs at most one interval's delay.

This module only keeps the per-Canary moments; it must not decide what a Canary does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from canary.kube.answers import API_SERVER, ApiServerAnswers

Key = tuple[str, str]


class WriteWitness:
    def __init__(
        self,
        answers: ApiServerAnswers = API_SERVER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._answers = answers
        self._clock = clock
        self._since: dict[Key, float] = {}  # when the last successful status write began

    def begin(self) -> float:
        """The moment a cycle begins (pass it to `trouble` and `written`)."""
        return self._clock()

    def trouble(self, key: Key, started: float) -> str:
        """Why the API server cannot be trusted since `key`'s last status write (or since
        `started`, the cycle's beginning, for a Canary not yet written), or ""."""
        since = self._since.setdefault(key, started)
        return self._answers.trouble_since(since)

    def written(self, key: Key, started: float) -> None:
        """The status write of the cycle that began at `started` succeeded."""
        self._since[key] = max(started, self._since.get(key, started))

    def forget(self, key: Key) -> None:
        self._since.pop(key, None)
