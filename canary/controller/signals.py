"""SIGTERM as an orderly stop of the controller process.

Kubernetes stops a pod with SIGTERM. Left to its default, the signal would end the process on
the spot, in the middle of a cycle and still named as the leader in the Lease, so a standby
would wait out the whole lease duration. `until_terminated` turns the signal into an exception
in the process's task group instead: every task is cancelled, the cycles end, the Lease is
released (`canary.controller.leader`), and the process exits 0. This module only translates the
signal; what stopping involves is the caller's.
"""

from __future__ import annotations

import asyncio
import signal
from typing import NoReturn


class TerminatedError(Exception):
    """The process was asked to stop (SIGTERM)."""


async def until_terminated() -> NoReturn:
    """Wait for SIGTERM, then raise `TerminatedError`."""
    loop = asyncio.get_running_loop()
    received = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, received.set)
    try:
        await received.wait()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    raise TerminatedError("SIGTERM")
