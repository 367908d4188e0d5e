"""Daemons are started detached, stopped with their whole group, and never confused by pid reuse."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import pytest

from canary.sandbox import processes
from canary.sandbox.errors import SandboxError
from canary.sandbox.readiness import wait_until


def _sleeper(tmp_path: Path, name: str = "sleeper") -> processes.ProcessRecord:
    return processes.start(name, ["sleep", "60"], log=tmp_path / f"{name}.log", cwd=tmp_path)


def test_started_process_runs_in_its_own_session_and_stops(tmp_path: Path) -> None:
    record = _sleeper(tmp_path)
    assert processes.is_running(record)
    assert os.getsid(record.pid) == record.pid
    processes.stop(record)
    assert not processes.is_running(record)


def test_a_recycled_pid_is_not_mistaken_for_the_recorded_process(tmp_path: Path) -> None:
    record = _sleeper(tmp_path)
    impostor = dataclasses.replace(record, start_ticks=record.start_ticks - 1)
    try:
        assert not processes.is_running(impostor)
        processes.stop(impostor)  # must not signal the real process
        assert processes.is_running(record)
    finally:
        processes.stop(record)


def test_stop_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    log = tmp_path / "stubborn.log"
    record = processes.start("stubborn", [sys.executable, "-c", script], log=log, cwd=tmp_path)
    processes.stop(record, grace=0.5)
    assert not processes.is_running(record)


async def test_waiting_on_a_process_that_exits_names_it_and_its_log(tmp_path: Path) -> None:
    log = tmp_path / "broken.log"
    record = processes.start("broken", ["sh", "-c", "echo bad flag; exit 3"], log=log, cwd=tmp_path)

    async def never() -> bool:
        return False

    with pytest.raises(SandboxError) as raised:
        await wait_until("start broken", never, within=30, process=record)
    assert (
        str(raised.value)
        == f"start broken: broken exited with code 3 before it became ready (log: {log})"
    )
    assert "bad flag" in log.read_text()


async def test_waiting_past_the_deadline_says_so() -> None:
    async def never() -> bool:
        return False

    with pytest.raises(SandboxError, match=r"^start thing: not ready after 0 s$"):
        await wait_until("start thing", never, within=0.2)
