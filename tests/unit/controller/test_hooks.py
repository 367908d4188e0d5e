"""Which webhooks a cycle calls, and how their answers reach the core."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from canary.api.canary import Canary
from canary.controller.hooks import HookRunner, after_decide, before_decide
from canary.core.model import Phase, Policy, Verdict
from canary.hooks.webhooks import WebhookResult
from tests.unit.core.world import REV_B, ago, observe, running, steady

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "podinfo" / "canary.yaml"
POLICY = Policy(interval=10, step_weight=10, max_weight=50, threshold=2)
TYPES = (
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-promotion",
    "rollback",
    "post-rollout",
    "event",
)


class Recording(HookRunner):
    """Answers each hook type as told, and remembers what was called (no network)."""

    def __init__(self, answers: Mapping[str, bool]) -> None:
        super().__init__()
        self.answers = answers
        self.calls: list[tuple[str, str]] = []

    async def call(
        self,
        canary: Canary,
        kind: str,
        *,
        phase: str,
        checksum: str,
        extra: Mapping[str, str] | None = None,
    ) -> list[tuple[str, WebhookResult]]:
        assert canary.metadata.namespace == "shop"
        assert checksum
        assert extra is None or "eventMessage" in extra
        self.calls.append((kind, phase))
        ok = self.answers.get(kind, True)
        return [
            (
                kind,
                WebhookResult(
                    ok=ok, status=200 if ok else 403, message="m", attempts=1, duration=0.0
                ),
            )
        ]


def _canary() -> Canary:
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["namespace"] = "shop"
    manifest["spec"]["analysis"]["webhooks"] = [
        {"name": kind, "type": kind, "url": "http://127.0.0.1:9/"} for kind in TYPES
    ]
    return Canary.model_validate(manifest)


async def test_a_pending_run_asks_the_rollout_gate_only() -> None:
    runner = Recording({"confirm-rollout": False})
    observation = await before_decide(runner, _canary(), POLICY, steady(), observe())
    assert [kind for kind, _ in runner.calls] == ["confirm-rollout"]
    assert observation.start_blocked.startswith("confirm-rollout webhook 'confirm-rollout'")


async def test_the_first_step_runs_pre_rollout_hooks_as_checks() -> None:
    runner = Recording({"pre-rollout": False})
    state = running(canary_weight=0, last_step_at=None)
    observation = await before_decide(runner, _canary(), POLICY, state, observe())
    assert [kind for kind, _ in runner.calls] == [
        "rollback",
        "pre-rollout",
        "confirm-traffic-increase",
    ]
    assert observation.checks is not None
    assert [(c.name, c.verdict) for c in observation.checks] == [
        ("pre-rollout webhook pre-rollout", Verdict.FAIL)
    ]


async def test_the_last_tick_asks_the_promotion_gate_and_rollback_hooks_can_roll_back() -> None:
    runner = Recording({"confirm-promotion": False, "rollback": True})
    state = running(canary_weight=50, last_step_at=ago(60))
    observation = await before_decide(runner, _canary(), POLICY, state, observe())
    assert [kind for kind, _ in runner.calls] == ["rollback", "rollout", "confirm-promotion"]
    assert observation.promotion_blocked.startswith("confirm-promotion webhook")
    assert observation.rollback_requested == "rollback requested by webhook 'rollback'"


async def test_an_ended_run_tells_post_rollout_hooks_and_events_go_to_event_hooks() -> None:
    runner = Recording({})
    before = running(canary_weight=50)
    after = running(Phase.SUCCEEDED, last_applied_revision=REV_B)
    await after_decide(
        runner, _canary(), before=before, after=after, events=[("Succeeded", "done")]
    )
    assert runner.calls == [("event", "Succeeded"), ("post-rollout", "Succeeded")]


async def test_every_strategys_first_tick_runs_the_pre_rollout_hooks() -> None:
    """Flagger runs them while `canaryWeight == 0 && iterations == 0`, whatever the strategy:
    blue/green (its Kubernetes tutorial's smoke test) and A/B runs too, once, before their
    first iteration."""
    blue_green = Policy(interval=10, iterations=3, threshold=2)
    ab_testing = Policy(interval=10, iterations=3, threshold=2, ab_testing=True)
    for policy in (blue_green, ab_testing):
        first = running(canary_weight=0, iterations=0, last_step_at=None)
        runner = Recording({})
        observation = await before_decide(runner, _canary(), policy, first, observe())
        assert "pre-rollout" in [kind for kind, _ in runner.calls], policy
        assert observation.checks is not None
        assert ("pre-rollout webhook pre-rollout", Verdict.PASS) in [
            (c.name, c.verdict) for c in observation.checks
        ]
        later = running(canary_weight=0, iterations=1, last_step_at=ago(60))
        runner = Recording({})
        await before_decide(runner, _canary(), policy, later, observe())
        assert "pre-rollout" not in [kind for kind, _ in runner.calls], policy
