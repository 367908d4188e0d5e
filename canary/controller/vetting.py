"""Whether a Canary may run a release cycle at all, and marking the one that may not.

Before a cycle decides anything, `Vetter` answers two questions about the Canary read:

* `refusal`: would it write what another Canary holds, or give an object a name it cannot have?
  Then it gets `Ready=False` (`Conflict`, `InvalidName`; the rules are in
  `canary.controller.ownership`) before any write, not even of its own finalizer.
* `vet`: can its spec be used? It must parse, use only supported fields for its provider, and
  name a route and router that exist; otherwise it gets `Ready=False, reason=InvalidSpec` (or
  `Unsupported`) naming the field.

`invalid` writes such a refusal: `Ready=False` and `Stalled=True` with the reason and message,
and a Warning event, once (a Canary already saying so is left alone). A refused Canary never
stops the others: nothing here raises for a bad Canary.

This module writes only the refused Canary's own status and events; it decides no release and
touches no other object.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError

from canary.api.canary import Canary
from canary.controller.cache import ObjectCache
from canary.controller.claimindex import ClaimIndex, Neighbours, Scanned
from canary.controller.claims import Claimant, claimant
from canary.controller.failures import refused_status, says
from canary.controller.ownership import Refusal, refusal
from canary.controller.routing import route_of, router_of
from canary.controller.support import unsupported_fields, unsupported_message
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.errors import KubeError
from canary.kube.events import record_event
from canary.kube.resources import CANARY, ResourceKind
from canary.routers.base import Router, RouteRef
from canary.routers.settings import ControllerRouting

log = structlog.get_logger(__name__)

CLAIMANT_MEMO = 100_000  # Canaries whose claims are remembered (see Vetter.claimant)

Reader = Callable[[ResourceKind, str, str], Awaitable[dict[str, Any] | None]]


class Vetter:
    """Vets the Canaries of one controller; remembers each Canary's claims per version."""

    def __init__(  # noqa: PLR0913 - keyword-only: what vetting reads, writes and knows
        self,
        api: ApiClient,
        *,
        read: Reader,
        cache: ObjectCache,
        default_provider: str,
        routing: ControllerRouting,
        remember: Callable[[dict[str, Any]], None],
    ) -> None:
        self.api = api
        self.read = read
        self.cache = cache
        self.default_provider = default_provider
        self.routing = routing  # the controller's own routing settings (flags)
        self.remember = remember  # told every Canary status written here
        self._claimants: dict[str, tuple[str, Claimant]] = {}  # uid -> (resourceVersion, ...)
        self.claims = ClaimIndex(self.claimant)  # every cached Canary's claims, by object
        cache.follow(CANARY.plural, self.claims)

    async def refusal(self, raw: dict[str, Any]) -> Refusal | None:
        """Why this Canary may not act (another Canary holds its objects, or a name it would
        give one is impossible), from the watch caches."""
        namespace = str((raw.get("metadata") or {}).get("namespace"))
        if self.cache.knows(CANARY.plural, namespace):
            neighbours: Neighbours = self.claims
        else:
            listed = await resources.list_objects(self.api, CANARY, namespace=namespace)
            neighbours = Scanned(listed or [], self.claimant)
        return await refusal(
            raw,
            read=self.read,
            neighbours=neighbours,
            default_provider=self.default_provider,
            claimant_of=self.claimant,
        )

    def claimant(self, raw: Mapping[str, Any]) -> Claimant:
        """`claimant` of `raw`, computed once per version of each Canary: every cycle asks it
        for every Canary of its namespace, so a namespace of N Canaries would cost N² a minute."""
        metadata = raw.get("metadata") or {}
        key = (str(metadata.get("uid")), str(metadata.get("resourceVersion")))
        known = self._claimants.get(key[0])
        if known is not None and known[0] == key[1] and key[1] != "None":
            return known[1]
        found = claimant(raw, default_provider=self.default_provider)
        if len(self._claimants) > CLAIMANT_MEMO:
            self._claimants.clear()  # Canaries come and go: start over rather than leak
        self._claimants[key[0]] = (key[1], found)
        return found

    async def vet(
        self, raw: dict[str, Any], *, now: datetime
    ) -> tuple[Canary, RouteRef, Router] | None:
        """The Canary with its route and router, or None after marking it not Ready (why)."""
        try:
            canary = Canary.model_validate(raw)
        except ValidationError as error:
            await self.invalid(raw, first_error(error), now=now)
            return None
        unsupported = unsupported_fields(canary, default_provider=self.default_provider)
        if unsupported:
            await self.invalid(raw, unsupported_message(unsupported), now=now, reason="Unsupported")
            return None
        try:
            route = route_of(canary)
            router = router_of(
                canary,
                self.api,
                read=self.read,
                default_provider=self.default_provider,
                controller=self.routing,
            )
        except ValueError as error:
            await self.invalid(raw, first_error(error), now=now)
            return None
        return canary, route, router

    async def invalid(
        self, raw: dict[str, Any], message: str, *, now: datetime, reason: str = "InvalidSpec"
    ) -> None:
        """Mark the Canary not ready and stalled with `message`, once (and a Warning event)."""
        if says(raw, reason=reason, message=message):
            return
        status = refused_status(raw, reason=reason, message=message, now=now)
        log.warning("canary_not_ready", reason=reason, message=message)
        await record_event(self.api, raw, reason=reason, message=message, warning=True)
        try:
            self.remember(
                await resources.replace_status(self.api, CANARY, {**raw, "status": status})
            )
        except KubeError as error:
            log.warning("status_not_written", error=str(error))


def first_error(error: Exception) -> str:
    """The first problem `error` names, with the field it is at when pydantic says which."""
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(error)
