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


def _stat(pid: int) -> tuple[str, int] | None:
    """The process's state letter and start time in clock ticks since boot, if it exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0], int(fields[19])


def _start_ticks(pid: int) -> int | None:
    stat = _stat(pid)
    return stat[1] if stat is not None else None


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


def _exists(record: ProcessRecord) -> bool:
    """The recorded process has threads still alive (a zombie main thread may still have some).

    A zombie with no other thread has released everything, ports included; it only waits for
    its parent (possibly another process, such as a test runner) to collect its status.
    """
    _reap(record.pid)
    stat = _stat(record.pid)
    if stat is None or stat[1] != record.start_ticks:
        return False
    if stat[0] != "Z":
        return True
    try:
        return len(list(Path(f"/proc/{record.pid}/task").iterdir())) > 1
    except OSError:
        return False


def is_running(record: ProcessRecord) -> bool:
    """The recorded process exists and has not exited (a zombie main thread means exiting)."""
    _reap(record.pid)
    stat = _stat(record.pid)
    return stat is not None and stat[1] == record.start_ticks and stat[0] != "Z"


def exit_code(record: ProcessRecord, *, wait: float = 2.0) -> int | None:
    """The exit status of a process this interpreter started and that has exited, else None.

    A Go program's main thread can show as a zombie while its other threads still wind down;
    only then can its status be collected, so this waits up to `wait` seconds for it.
    """
    child = _children.get(record.pid)
    if child is None:
        return None
    try:
        return child.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        return None


def stop(record: ProcessRecord, *, grace: float = 10.0) -> None:
    """SIGTERM the process group, wait up to `grace` seconds, then SIGKILL what is left.

    Returns once the process is gone entirely (not just its main thread), so that its ports
    are free, or after a final bounded wait if something else holds on to it.
    """
    if not _exists(record):
        return
    _signal_group(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _exists(record):
            return
        time.sleep(0.05)
    _signal_group(record.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while _exists(record) and time.monotonic() < deadline:
        time.sleep(0.05)


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)
