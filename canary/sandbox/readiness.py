"""Wait, with a deadline, until a sandbox component answers its health endpoint.

A component that exits while we wait fails the wait at once, naming its log, instead of letting
the deadline run out on a process that is already gone.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from canary.sandbox import processes
from canary.sandbox.errors import SandboxError
from canary.sandbox.processes import ProcessRecord

POLL_INTERVAL = 0.1


async def wait_until(
    step: str,
    probe: Callable[[], Awaitable[bool]],
    *,
    within: float,
    process: ProcessRecord | None = None,
) -> float:
    """Poll `probe` until it returns True, for at most `within` seconds; return the time taken."""
    started = time.monotonic()
    deadline = started + within
    log = Path(process.log) if process is not None else None
    while True:
        if process is not None and not processes.is_running(process):
            code = processes.exit_code(process)
            how = f"with code {code}" if code is not None else "unexpectedly"
            raise SandboxError(step, f"{process.name} exited {how} before it became ready", log=log)
        if await probe():
            return time.monotonic() - started
        if time.monotonic() > deadline:
            raise SandboxError(step, f"not ready after {within:.0f} s", log=log)
        await asyncio.sleep(POLL_INTERVAL)


def http_probe(
    session: aiohttp.ClientSession,
    url: str,
    *,
    ssl_context: ssl.SSLContext | bool = True,
) -> Callable[[], Awaitable[bool]]:
    """A probe that is True when `url` answers 200."""

    async def probe() -> bool:
        try:
            async with asyncio.timeout(2):
                async with session.get(url, ssl=ssl_context) as response:
                    return response.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    return probe


def client_ssl_context(*, ca: Path, cert: Path, key: Path) -> ssl.SSLContext:
    """TLS to the API server: verify it against the sandbox CA, present the admin cert."""
    context = ssl.create_default_context(cafile=str(ca))
    context.load_cert_chain(str(cert), str(key))
    return context


def insecure_ssl_context() -> ssl.SSLContext:
    """For the controller-manager's and scheduler's self-signed health endpoints on loopback."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
