"""Start and stop the sandbox's daemons: detached, each in its own session, each with its own log.

A daemon outlives the command that started it (`canary sandbox up` returns while the cluster runs),
so it gets a new session: a Ctrl-C in the terminal does not reach it, and `down` stops it by
signalling its whole process group. A recorded process is identified by pid *and* start time, so a
recycled pid never gets a signal meant for a sandbox process that is long gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ProcessRecord:
    """A daemon the sandbox started: enough to find it again and to stop only it."""

    name: str
    pid: int
    start_ticks: int
    log: str
    argv: tuple[str, ...]


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":  # a zombie has exited already; it only waits to be reaped
        return None
    return int(fields[19])


def start(
    name: str, argv: list[str], *, log: Path, cwd: Path, env: dict[str, str] | None = None
) -> ProcessRecord:
    """Start `argv` detached, appending its output to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    _children[process.pid] = process
    ticks = _start_ticks(process.pid)
    return ProcessRecord(
        name=name,
        pid=process.pid,
        start_ticks=ticks if ticks is not None else -1,
        log=str(log),
        argv=tuple(argv),
    )


# Children this interpreter started, by pid. Kept so that their exit status can be read: a
# dropped Popen object reaps its child on garbage collection and the status is lost.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _reap(pid: int) -> None:
    """Collect the exit status if this interpreter is the parent (so no zombie lingers)."""
    if (child := _children.get(pid)) is not None:
        child.poll()


def is_running(record: ProcessRecord) -> bool:
    _reap(record.pid)
    ticks = _start_ticks(record.pid)
    return ticks is not None and ticks == record.start_ticks


def exit_code(record: ProcessRecord) -> int | None:
    """The exit status of a process this interpreter started and that has exited, else None."""
    child = _children.get(record.pid)
    return child.poll() if child is not None else None


def stop(record: ProcessRecord, *, grace: float = 10.0) -> None:
    """SIGTERM the process group, wait up to `grace` seconds, then SIGKILL what is left."""
    if not is_running(record):
        return
    _signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_running(record):
            return
        time.sleep(0.05)
    _signal_group(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while is_running(record) and time.monotonic() < deadline:
        time.sleep(0.05)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)
