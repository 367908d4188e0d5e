"""One reconcile cycle of one Canary: load, observe, decide, execute, write status once.

The cycle reads the Canary (and the objects it observes) from the watch caches, which may be a
moment behind the API server; it reads from the API server only until a cache covers the
namespace. What keeps a stale copy harmless is the status write: it carries the resourceVersion
of the copy read, so if the Canary changed since (or the copy was behind), the API server
answers 409, nothing is written, and the cycle runs again shortly, reading the cache again;
unless only the metadata or spec changed (a pause, `spec.suspend`): then the status, which
records the actions already taken, is written on the fresh copy (`canary.controller.statuswrite`).
The object the write returns goes into the cache at once. A Canary whose spec cannot be used gets
`Ready=False, reason=InvalidSpec` and a Warning event, and nothing else happens to it.
Before any write, a Canary that would write what another Canary holds, or give an object a name
it cannot have, gets `Ready=False` (`Conflict`, `InvalidName`) and writes nothing else. Both
checks, and the writing of such a refusal, are in `canary.controller.vetting`.
The decision's events are recorded after its status is written: they announce what the status
says, and a cycle whose write loses a race (409) announces nothing. The cycle returns how long to
wait before the next one is needed (`canary.controller.pacing`), or the decision's own
`again_in` (a run just acknowledged scales its canary up a moment later).

Waits on systems outside the cluster (metric queries, webhooks, alerts) run `outside_limit()`,
without a slot of `--max-parallel`; the whole cycle is bounded by `canary.controller.deadline`.
A tick whose data was gathered while the API server failed or hung is held
(`canary.controller.outage`, rule 5 of `canary.core.decide`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from canary.api.canary import Canary
from canary.controller.alerts import AlertSender, alert_warnings, wanted
from canary.controller.cache import ObjectCache, answers_for
from canary.controller.checks import PrometheusPool, run_checks
from canary.controller.convert import policy_of, state_of, status_of
from canary.controller.deadline import cycle_budget
from canary.controller.deletion import is_deleting
from canary.controller.execute import CannotActError, Context, execute
from canary.controller.failures import FailureReporter
from canary.controller.finalize import finalize, sync_finalizer
from canary.controller.hooks import HookRunner, after_decide, before_decide
from canary.controller.leader import LeadershipLostError
from canary.controller.manual import clear_spent
from canary.controller.observe import observe
from canary.controller.orphans import AGAIN, OrphanedRoutes
from canary.controller.outage import WriteWitness
from canary.controller.ownership import Refusal
from canary.controller.pacing import STEADY_RECHECK, next_delay
from canary.controller.routing import owner_of
from canary.controller.scheduler import Key, leave_limit, outside_limit
from canary.controller.settings import Settings
from canary.controller.statuswrite import StatusMoved, write_cycle_status
from canary.controller.support import fields_honored, ignored_warnings
from canary.controller.vetting import Vetter
from canary.core.conditions import Condition, ConditionType
from canary.core.decide import decide
from canary.core.model import Action, CanaryState, Observation, Phase, Policy, RecordEvent
from canary.core.schedule import checks_due
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.errors import Conflict, KubeError
from canary.kube.events import record_event
from canary.kube.resources import CANARY, ResourceKind
from canary.routers.base import RouteError, RouteRef
from canary.targets.deployment import TargetError
from canary.targets.workload import workload_of
from canary.telemetry import metrics
from canary.telemetry.releases import ReleaseBook

log = structlog.get_logger(__name__)

CANARIES = CANARY
TIMED_OUT_RETRY = 5.0  # seconds before a cycle cut short by its deadline runs again
# Phases that count against --max-progressing: a release is under way.
UNDER_WAY = frozenset(
    {Phase.PROGRESSING, Phase.WAITING_PROMOTION, Phase.PROMOTING, Phase.FINALISING}
)


class Reconciler:
    def __init__(
        self, api: ApiClient, settings: Settings, *, may_act: Callable[[], bool] | None = None
    ) -> None:
        self.api = api
        # Asked before each batch of writes: False once this replica lost the leader Lease.
        self.may_act = may_act or (lambda: True)
        self.settings = settings
        self.prometheus = PrometheusPool(timeout=settings.prometheus_timeout)
        self.hooks = HookRunner()
        self.alerts = AlertSender(self.read, cluster=settings.cluster_name)
        # The last known phase of every Canary: from watch events, and from this controller's
        # own decisions the moment they are made (before any await, so two cycles can never
        # both take the last free slot).
        self.phases: dict[Key, str] = {}
        self.own_writes: dict[Key, str] = {}  # resourceVersion of each Canary's last status write
        self.cache = ObjectCache()  # filled by the watches (see app.Wiring)
        self.releases = ReleaseBook()  # what each cycle decided, for /metrics
        # Shows on the Canary the cycles that keep failing (the scheduler tells it).
        self.failures = FailureReporter(
            api, read=self.read, may_act=self.may_act, remember=self._remember_write
        )
        self.witness = WriteWitness()  # since when the API server answered, per Canary
        # Whether each Canary may run a cycle at all; marks the ones that may not.
        self.vetter = Vetter(
            api,
            read=self.read,
            cache=self.cache,
            default_provider=settings.provider,
            routing=settings.routing,
            remember=self._remember_write,
        )
        # Takes over a cluster-scoped route left behind by a Canary that is gone.
        self.orphans = OrphanedRoutes(
            api, cache=self.cache, default_provider=settings.provider, may_act=self.may_act
        )

    def note_phase(self, key: Key, phase: str | None) -> None:
        if phase is None:
            self.phases.pop(key, None)
        else:
            self.phases[key] = phase

    def under_way(self) -> int:
        """How many Canaries have a release under way (by their last known phase)."""
        return sum(1 for phase in self.phases.values() if phase in UNDER_WAY)

    def start_blocked(self, key: Key) -> str:
        """Why `key` may not start a new release now, or "" when it may."""
        limit = self.settings.max_progressing
        if limit <= 0:
            return ""
        under_way = sum(1 for k, p in self.phases.items() if k != key and p in UNDER_WAY)
        if under_way < limit:
            return ""
        return f"{under_way} canaries are progressing (limit {limit}, --max-progressing)"

    @metrics.instrument_cycle
    async def cycle(self, key: Key) -> float:
        namespace, name = key
        raw = await self._read_canary(namespace, name)
        if raw is None:
            return STEADY_RECHECK
        structlog.contextvars.bind_contextvars(namespace=namespace, canary=name)
        budget = cycle_budget(raw, base=self.settings.cycle_timeout)
        deadline = asyncio.timeout(budget)
        try:
            async with deadline:
                return await self._cycle(raw)
        except TimeoutError:
            if not deadline.expired():
                raise
            metrics.mark_timeout()
            log.warning("reconcile_timed_out", budget=round(budget, 1), retry_in=TIMED_OUT_RETRY)
            return TIMED_OUT_RETRY
        except Conflict as conflict:
            metrics.mark_conflict()
            log.info("status_conflict_retrying")
            if not isinstance(conflict, StatusMoved):
                await self._refresh_canary(namespace, name)
            elif conflict.fresh is not None:  # read by the status write already
                self.cache.put(CANARIES.plural, conflict.fresh)
            return 0.2  # read again, from the refreshed cache
        finally:
            structlog.contextvars.unbind_contextvars("namespace", "canary")

    async def _cycle(self, raw: dict[str, Any]) -> float:
        now = datetime.now(UTC)
        started = self.witness.begin()
        refused = await self.vetter.refusal(raw)
        if refused is not None or is_deleting(raw):
            return await self._stand_aside(raw, refused, now=now)
        raw = await sync_finalizer(self.api, raw, remember=self._remember_write)
        vetted = await self.vetter.vet(raw, now=now)
        if vetted is None:
            return STEADY_RECHECK
        canary, route, router = vetted
        policy = policy_of(canary, min_interval=self.settings.min_interval)
        state = state_of(canary.status)
        if policy.suspend:
            return STEADY_RECHECK
        try:
            world = await observe(
                functools.partial(self.read, workload_of(canary.spec.target_ref.kind).resource),
                canary,
                router=router,
                route=route,
                now=now,
                read_object=self.read,
            )
        except RouteError as error:
            return await self._route_refused(raw, canary, route, error, now=now)
        key = (canary.metadata.namespace, canary.metadata.name)
        observation, checked = await self._judge(
            canary, policy, state, world.observation, key=key, started=started
        )
        checked_at = now if checked else None
        blocked = self.start_blocked(key) or observation.start_blocked
        observation = dataclasses.replace(observation, start_blocked=blocked)
        decision = decide(policy, state, observation)
        self.note_phase(key, decision.state.phase.value)
        context = Context(
            api=self.api,
            canary=canary,
            raw=raw,
            router=router,
            route=route,
            owner=owner_of(canary),
            target=world.target,
            primary=world.primary,
            last_promoted_revision=state.last_promoted_revision,
            label_prefixes=self.settings.include_label_prefixes,
            workload=workload_of(canary.spec.target_ref.kind),
        )
        try:
            announced = await self._act(context, decision.actions)
        except (CannotActError, TargetError) as error:
            await self.vetter.invalid(raw, str(error), now=now, reason="CannotProceed")
            return STEADY_RECHECK / 2
        new_state = decision.state
        if (
            checked_at is not None
            and observation.checks is not None
            and new_state.checks == state.checks
        ):
            new_state = dataclasses.replace(new_state, checks=observation.checks)
        # The configs the status names are those of the revision under (or after) analysis.
        tracked = (
            world.configs
            if new_state.last_applied_revision == observation.target_revision
            else None
        )
        events = [(a.reason, a.message) for a in decision.actions if isinstance(a, RecordEvent)]
        notes = await self.alerts.check(
            canary, sending=any(wanted(canary, reason) for reason, _ in events)
        )
        notes |= fields_honored(canary, default_provider=self.settings.provider)
        if await self._write_status(
            raw,
            canary,
            new_state,
            now=now,
            checked_at=checked_at,
            tracked_configs=tracked,
            notes=notes,
        ):
            self.witness.written(key, started)
        # Recorded as soon as the status is written, before anything is announced: a scrape that
        # sees the Canary's new phase soon sees its counters too, and `finished` is the write.
        self.releases.record_cycle(
            canary,
            policy=policy,
            before=state,
            after=new_state,
            actions=decision.actions,
            route_weights=observation.route_weights,
            started=now,
            finished=datetime.now(UTC),
        )
        leave_limit()  # the decision is recorded: announcing it holds back no one
        for event in announced:
            await execute(context, event)
        warnings = alert_warnings(canary.status, notes) + ignored_warnings(canary.status, notes)
        for reason, message in warnings:
            await record_event(self.api, raw, reason=reason, message=message, warning=True)
        await clear_spent(self.api, raw, phase=new_state.phase.value)
        external = bool(canary.spec.analysis.webhooks or canary.spec.analysis.alerts)
        changed = bool(events) or new_state.phase != state.phase
        async with outside_limit(needed=external and changed):
            await after_decide(self.hooks, canary, before=state, after=new_state, events=events)
            await self.alerts.notify(canary, events, phase=new_state.phase)
        if new_state.phase != state.phase:
            log.info(
                "phase_changed",
                phase=new_state.phase.value,
                previous=state.phase.value,
                weight=new_state.canary_weight,
            )
        polled = not workload_of(canary.spec.target_ref.kind).watched
        paced = next_delay(policy, new_state, now, polled=polled)
        return paced if decision.again_in is None else decision.again_in

    async def _act(self, context: Context, actions: tuple[Action, ...]) -> list[RecordEvent]:
        """Carry out the decision's actions but its events, which are returned: events say what
        the status records, so they are sent once it is written, and a cycle whose status write
        loses a race announces nothing it did not record."""
        self._ensure_acting()
        for action in actions:
            if not isinstance(action, RecordEvent):
                await execute(context, action)
        return [action for action in actions if isinstance(action, RecordEvent)]

    async def _judge(  # noqa: PLR0913 - keyword-only: whose cycle, begun when
        self,
        canary: Canary,
        policy: Policy,
        state: CanaryState,
        observation: Observation,
        *,
        key: Key,
        started: float,
    ) -> tuple[Observation, bool]:
        """`observation` with this cycle's metric checks (when due) and webhooks' answers, both
        awaited without a slot of --max-parallel, and whether metric checks ran; with
        `api_unreachable` set, and no checks, when the API server failed since `key`'s status
        was last written."""
        checked = False
        trouble = self.witness.trouble(key, started)
        if checks_due(policy, state, observation.now) and observation.canary.ready and not trouble:
            async with outside_limit():
                checks = await run_checks(
                    self.read,
                    canary,
                    pool=self.prometheus,
                    default_url=self.settings.prometheus_url,
                    default_provider=self.settings.provider,
                    api=self.api,
                )
            observation = dataclasses.replace(observation, checks=checks)
            checked = True
        async with outside_limit(needed=bool(canary.spec.analysis.webhooks)):
            observation = await before_decide(self.hooks, canary, policy, state, observation)
        # Asked again after the waits above: no failure may have come while data was gathered.
        trouble = self.witness.trouble(key, started)
        if trouble:
            observation = dataclasses.replace(observation, checks=None, api_unreachable=trouble)
            checked = False
        return observation, checked

    async def _route_refused(
        self,
        raw: dict[str, Any],
        canary: Canary,
        route: RouteRef,
        error: RouteError,
        *,
        now: datetime,
    ) -> float:
        """The router refused the route object: taken over when a Canary that is gone held it
        (`canary.controller.orphans`), else the Canary is marked `RouteInvalid`."""
        provider = canary.spec.provider or self.settings.provider
        if await self.orphans.take_over(raw, route=route, provider=provider):
            return AGAIN
        await self.vetter.invalid(raw, str(error), now=now, reason="RouteInvalid")
        return STEADY_RECHECK

    async def _stand_aside(
        self, raw: dict[str, Any], refused: Refusal | None, *, now: datetime
    ) -> float:
        """A cycle that releases nothing: the Canary is being deleted, or it may not act (then
        it is marked not Ready, before any write, not even of its own finalizer)."""
        if is_deleting(raw):  # before validation: an invalid Canary must still be deletable
            return await finalize(
                self.api,
                raw,
                default_provider=self.settings.provider,
                now=now,
                remember=self._remember_write,
                held_elsewhere=refused.message if refused is not None else None,
            )
        if refused is None:
            return STEADY_RECHECK
        await self.vetter.invalid(raw, refused.message, now=now, reason=refused.reason)
        return refused.retry

    async def _write_status(  # noqa: PLR0913 - keyword-only: what the status is computed from
        self,
        raw: dict[str, Any],
        canary: Canary,
        state: CanaryState,
        *,
        now: datetime,
        checked_at: datetime | None,
        tracked_configs: Mapping[str, str] | None = None,
        notes: Mapping[ConditionType, Condition | None] | None = None,
    ) -> bool:
        """Write the status computed from `state`; whether a write was made (and succeeded)."""
        status = status_of(
            state,
            previous=canary.status,
            generation=canary.metadata.generation,
            now=now,
            checked_at=checked_at,
            tracked_configs=tracked_configs,
            notes=notes,
        )
        if status == raw.get("status"):
            return False
        written = await write_cycle_status(self.api, raw, status, ensure_acting=self._ensure_acting)
        self._remember_write(written)
        return True

    def _ensure_acting(self) -> None:
        """Belt and braces beside the fenced client: no write batch starts without the Lease."""
        if not self.may_act():
            raise LeadershipLostError("not the leader: the cycle's writes are not made")

    def _remember_write(self, written: dict[str, Any]) -> None:
        metadata = written.get("metadata") or {}
        key = (str(metadata.get("namespace")), str(metadata.get("name")))
        self.own_writes[key] = str(metadata.get("resourceVersion"))
        self.cache.put("canaries", written)

    async def read(self, kind: ResourceKind, namespace: str, name: str) -> dict[str, Any] | None:
        """An object from the watch caches once they cover `namespace`, else from the API."""
        if answers_for(kind) and self.cache.knows(kind.plural, namespace):
            return self.cache.get(kind.plural, namespace, name)
        return await resources.get(self.api, kind, name, namespace=namespace)

    async def _refresh_canary(self, namespace: str, name: str) -> None:
        """After a 409: put the API server's copy of the Canary in the cache. The watch alone is
        not enough: when this controller's own status write answered after the watch delivered
        a newer object (a deletion, an edit), the cache holds the older copy and no further
        watch event comes to replace it, so every cycle would read it and get 409 again."""
        try:
            fresh = await resources.get(self.api, CANARIES, name, namespace=namespace)
        except KubeError as error:
            log.warning("canary_not_refreshed", error=str(error))
            return
        if fresh is not None:
            self.cache.put(CANARIES.plural, fresh)

    async def _read_canary(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self.read(CANARIES, namespace, name)

    def is_own_write(self, key: Key, resource_version: str | None) -> bool:
        """Whether a watch event shows exactly what this controller's last status write made.

        Such an event needs no new cycle: the cycle that wrote it has already decided what
        comes next (waking on it would double the API calls of every step).
        """
        return resource_version is not None and self.own_writes.get(key) == resource_version
