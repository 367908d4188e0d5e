"""The record of the API server's answers: what counts as trouble, and the heartbeat."""

from __future__ import annotations

import asyncio

from canary.kube.answers import HEARTBEAT_CALL, ApiServerAnswers, heartbeat
from canary.kube.metrics import describe


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_heartbeat_failure_after_a_moment_is_trouble_since_then_only() -> None:
    clock = Clock()
    answers = ApiServerAnswers(clock)
    answers.note(HEARTBEAT_CALL, 200)
    assert answers.trouble_since(90.0) == ""
    clock.now = 110.0
    answers.note(HEARTBEAT_CALL, "error")
    clock.now = 113.0
    assert answers.trouble_since(105.0) == "the API server did not answer (no answer) 3 s ago"
    assert answers.trouble_since(111.0) == ""  # the failure came before: nothing since


def test_a_heartbeat_waiting_too_long_is_trouble_before_its_timeout() -> None:
    clock = Clock()
    answers = ApiServerAnswers(clock)
    with answers.waiting(HEARTBEAT_CALL):
        clock.now += 1.0
        assert answers.trouble_since(0.0) == ""
        clock.now += 2.5
        assert answers.trouble_since(0.0) == "the API server has not answered for 4 s"
        assert answers.oldest_pending() == (3.5, HEARTBEAT_CALL)
    assert answers.oldest_pending() is None


def test_other_requests_are_no_evidence_against_the_server() -> None:
    """One team's hanging admission webhook must not hold every other team's analysis."""
    clock = Clock()
    answers = ApiServerAnswers(clock)
    with answers.waiting("PATCH deployments"):
        clock.now += 30.0
        answers.note("PATCH deployments", 500)
        assert answers.trouble_since(0.0) == ""
        assert answers.problem() == "the API server has not answered PATCH deployments for 30 s"
    assert answers.problem() == "the API server failed PATCH deployments (HTTP 500)"


def test_answers_that_are_refusals_still_show_a_working_server() -> None:
    answers = ApiServerAnswers(Clock())
    for code in (200, 404, 409, 422):
        answers.note(HEARTBEAT_CALL, code)
    assert answers.last_failure is None
    for code in (429, 503):
        answers.note(HEARTBEAT_CALL, code)
        assert answers.last_heartbeat_failure is not None
        assert answers.last_heartbeat_failure.why == f"HTTP {code}"


def test_the_heartbeat_notes_a_request_that_hangs_and_recovers() -> None:
    answers = ApiServerAnswers()
    calls = 0

    async def run() -> None:
        asked_thrice = asyncio.Event()

        async def ask() -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                await asyncio.Event().wait()  # the API server is stopped
            if calls == 3:
                asked_thrice.set()

        task = asyncio.create_task(heartbeat(ask, answers=answers, period=0.01, within=0.05))
        try:
            async with asyncio.timeout(10):
                await asked_thrice.wait()
        finally:
            task.cancel()

    asyncio.run(run())
    assert answers.last_heartbeat_failure is not None
    assert answers.last_heartbeat_failure.call == HEARTBEAT_CALL


def test_the_heartbeat_request_is_named_as_it_is_counted() -> None:
    assert " ".join(describe("GET", "/version")) == HEARTBEAT_CALL


def test_the_heartbeat_asks_nothing_while_no_release_is_under_way() -> None:
    calls = 0
    under_way = False

    async def run() -> None:
        nonlocal under_way
        idle_checks = 0
        asked = asyncio.Event()
        idle_long_enough = asyncio.Event()

        def wanted() -> bool:
            nonlocal idle_checks
            idle_checks += 1
            if idle_checks >= 5:  # five periods with nothing under way
                idle_long_enough.set()
            return under_way

        async def ask() -> None:
            nonlocal calls
            calls += 1
            asked.set()

        task = asyncio.create_task(heartbeat(ask, wanted=wanted, period=0.01))
        try:
            async with asyncio.timeout(10):
                await idle_long_enough.wait()
                assert calls == 0
                under_way = True
                await asked.wait()
        finally:
            task.cancel()

    asyncio.run(run())
    assert calls >= 1
