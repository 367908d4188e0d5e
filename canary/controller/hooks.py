"""The Canary's webhooks around one decision: which to call this cycle, and what they said.

Gates become inputs of the pure core: confirm-rollout holds a new run in Waiting, confirm-
promotion holds a passing run in WaitingPromotion, a rollback hook that answers 2xx rolls the
run back; pre-rollout (before the first step) and rollout hooks (every tick) are judged like
metric checks, so a failing one counts towards `threshold`. post-rollout hooks are told the
outcome, event hooks every event. A webhook's failure is data, never an exception here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import aiohttp
import structlog

from canary.api.canary import Canary
from canary.core.decide import would_start_run
from canary.core.model import CanaryState, CheckResult, Observation, Policy, Verdict
from canary.core.schedule import (
    ANALYSING_PHASES,
    Strategy,
    max_weight,
    needs_checks,
    strategy,
    tick_due,
)
from canary.hooks.webhooks import WebhookPayload, WebhookResult, WebhookSpec, call_webhook

log = structlog.get_logger(__name__)


class HookRunner:
    """Calls a Canary's webhooks of one type, in order, with one shared HTTP session."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(
        self,
        canary: Canary,
        kind: str,
        *,
        phase: str,
        checksum: str,
        extra: Mapping[str, str] | None = None,
    ) -> list[tuple[str, WebhookResult]]:
        hooks = [h for h in canary.spec.analysis.webhooks if h.type == kind]
        if not hooks:
            return []
        if self._session is None:
            # No cap on connections: calls are bounded by their timeouts and each Canary has at
            # most one in flight, while a shared cap would let one Canary's hanging hooks make
            # every other Canary's hooks queue for a connection. HTTP_PROXY, HTTPS_PROXY and
            # NO_PROXY are honoured, as Flagger's (Go's default HTTP client) does.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), trust_env=True
            )
        results = []
        for hook in hooks:
            spec = WebhookSpec(
                name=hook.name,
                url=hook.url,
                type=hook.type,
                timeout_seconds=hook.timeout_seconds,
                retries=hook.retries,
                metadata=dict(hook.metadata),
                disable_tls=hook.disable_tls,
            )
            payload = WebhookPayload(
                name=canary.metadata.name,
                namespace=canary.metadata.namespace,
                phase=phase,
                checksum=checksum,
                type=kind,
                metadata={**hook.metadata, **(extra or {})},
            )
            result = await call_webhook(spec, payload, session=self._session)
            log.info(
                "webhook_called", webhook=hook.name, type=kind, ok=result.ok, message=result.message
            )
            results.append((hook.name, result))
        return results


def _refusal(kind: str, results: list[tuple[str, WebhookResult]]) -> str:
    """Why the gate is shut ("" when every hook of the gate approved)."""
    for name, result in results:
        if not result.ok:
            return f"{kind} webhook {name!r} did not approve: {result.message}"
    return ""


def _as_checks(kind: str, results: list[tuple[str, WebhookResult]]) -> tuple[CheckResult, ...]:
    return tuple(
        CheckResult(
            name=f"{kind} webhook {name}",
            verdict=Verdict.PASS if result.ok else Verdict.FAIL,
            value=None,
            message=result.message,
        )
        for name, result in results
    )


async def before_decide(
    runner: HookRunner, canary: Canary, policy: Policy, state: CanaryState, observation: Observation
) -> Observation:
    """The observation with what this cycle's gates and judged hooks said."""
    if not canary.spec.analysis.webhooks:
        return observation
    phase, revision = state.phase.value, state.last_applied_revision
    changes: dict[str, object] = {}
    if would_start_run(state, observation):
        results = await runner.call(
            canary, "confirm-rollout", phase=phase, checksum=observation.target_revision
        )
        changes["start_blocked"] = _refusal("confirm-rollout", results)
    analysing = state.phase in ANALYSING_PHASES and observation.target_revision == revision
    if analysing:
        results = await runner.call(canary, "rollback", phase=phase, checksum=revision)
        approved = [name for name, result in results if result.ok]
        if approved:
            changes["rollback_requested"] = f"rollback requested by webhook {approved[0]!r}"
    if analysing and observation.canary.ready and tick_due(policy, state, observation.now):
        hook_checks: tuple[CheckResult, ...] = ()
        # The run's first tick, whatever its strategy (Flagger's `canaryWeight == 0 &&
        # iterations == 0`): blue/green and A/B runs have pre-rollout hooks too.
        first_step = state.canary_weight == 0 and state.iterations == 0
        if first_step:
            results = await runner.call(canary, "pre-rollout", phase=phase, checksum=revision)
            hook_checks += _as_checks("pre-rollout", results)
        if needs_checks(policy, state):
            results = await runner.call(canary, "rollout", phase=phase, checksum=revision)
            hook_checks += _as_checks("rollout", results)
        if hook_checks:
            changes["checks"] = (observation.checks or ()) + hook_checks
        if strategy(policy) is Strategy.CANARY and state.canary_weight < max_weight(policy):
            results = await runner.call(
                canary, "confirm-traffic-increase", phase=phase, checksum=revision
            )
            changes["increase_blocked"] = _refusal("confirm-traffic-increase", results)
        if _promotion_next(policy, state):
            results = await runner.call(canary, "confirm-promotion", phase=phase, checksum=revision)
            changes["promotion_blocked"] = _refusal("confirm-promotion", results)
    return dataclasses.replace(observation, **changes)  # type: ignore[arg-type]


def _promotion_next(policy: Policy, state: CanaryState) -> bool:
    """Whether this tick promotes if its checks pass."""
    match strategy(policy):
        case Strategy.CANARY:
            return state.canary_weight >= max_weight(policy)
        case Strategy.ITERATIONS:
            return state.iterations + 1 >= policy.iterations
        case _:
            return False


async def after_decide(
    runner: HookRunner,
    canary: Canary,
    *,
    before: CanaryState,
    after: CanaryState,
    events: list[tuple[str, str]],
) -> None:
    """post-rollout hooks when a run ended, event hooks for every event (best effort)."""
    if not canary.spec.analysis.webhooks:
        return
    revision = after.last_applied_revision
    for reason, message in events:
        extra = {"eventMessage": message, "eventType": reason}
        await runner.call(canary, "event", phase=after.phase.value, checksum=revision, extra=extra)
    ended = after.phase.value in {"Succeeded", "Failed"} and before.phase != after.phase
    if ended:
        await runner.call(canary, "post-rollout", phase=after.phase.value, checksum=revision)
