"""A cycle's deadline: the controller's own budget plus its webhooks' worst case."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from kubernetes_asyncio.client import ApiClient

from canary.controller.deadline import cycle_budget, webhook_worst_case
from canary.controller.outage import WriteWitness
from canary.controller.reconcile import TIMED_OUT_RETRY, Reconciler
from canary.controller.settings import Settings
from canary.kube.answers import HEARTBEAT_CALL, ApiServerAnswers
from canary.telemetry.metrics import RECONCILES


def _canary(*hooks: dict[str, Any]) -> dict[str, Any]:
    return {"spec": {"analysis": {"webhooks": list(hooks)}}}


def test_a_hanging_hook_at_its_limits_fits_in_the_budget() -> None:
    """timeout 9 s, 5 retries: 6 attempts of 9 s and backoffs of 1+2+4+8+10 s."""
    hook = {"name": "load", "url": "http://127.0.0.1:1/", "timeout": "9s", "retries": 5}
    assert webhook_worst_case(hook) == 6 * 9 + 25
    assert cycle_budget(_canary(hook), base=60) == 60 + 79


def test_event_hooks_count_twice_and_defaults_apply() -> None:
    event = {"name": "e", "type": "event", "url": "http://127.0.0.1:1/"}
    assert cycle_budget(_canary(event), base=60) == 60 + 2 * 10


@pytest.mark.parametrize(
    "canary",
    [{}, {"spec": None}, {"spec": {"analysis": {"webhooks": "nope"}}}, _canary("x")],  # type: ignore[arg-type]
)
def test_an_unreadable_spec_gets_the_base_budget(canary: dict[str, Any]) -> None:
    assert cycle_budget(canary, base=60) == 60


def test_an_unreadable_hook_counts_with_its_defaults() -> None:
    hook = {"timeout": "soon", "retries": "many"}
    assert webhook_worst_case(hook) == 10


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_witness_reports_trouble_until_a_later_write() -> None:
    clock = Clock()
    answers = ApiServerAnswers(clock)
    witness = WriteWitness(answers, clock)
    key = ("ns", "a")
    started = witness.begin()
    assert witness.trouble(key, started) == ""
    clock.now = 5.0
    answers.note(HEARTBEAT_CALL, 0)  # the API server stops answering
    clock.now = 10.0
    assert witness.trouble(key, witness.begin()).startswith("the API server did not answer")
    clock.now = 40.0  # it answers again; the held tick's status write succeeds
    held = witness.begin()
    witness.written(key, held)
    clock.now = 50.0
    assert witness.trouble(key, witness.begin()) == ""
    assert witness.trouble(("ns", "new"), witness.begin()) == ""


async def test_a_cycle_that_overruns_its_deadline_is_cut_short_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(
        kubeconfig=None,
        prometheus_url="http://127.0.0.1:9",
        provider="linkerd",
        namespaces=(),
        log_format="console",
        log_level="info",
        listen="",
        min_interval=1,
        max_parallel=1,
        max_progressing=0,
        prometheus_timeout=1,
        cycle_timeout=0.05,
    )
    reconciler = Reconciler(cast("ApiClient", None), settings)  # reads come from the cache
    stuck = {
        "apiVersion": "canary.dev/v1alpha1",
        "kind": "Canary",
        "metadata": {"name": "a", "namespace": "ns"},
    }
    reconciler.cache.replace("canaries", "ns", (stuck,))

    async def hang(_raw: dict[str, Any]) -> float:
        await asyncio.Event().wait()  # stuck on something no timeout of its own bounds
        return 0.0

    monkeypatch.setattr(reconciler, "_cycle", hang)
    before = RECONCILES.labels(result="timeout")._value.get()
    async with asyncio.timeout(10):
        delay = await reconciler.cycle(("ns", "a"))
    assert delay == TIMED_OUT_RETRY
    assert RECONCILES.labels(result="timeout")._value.get() == before + 1
