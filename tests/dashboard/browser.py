"""A real browser for the dashboard's tests: Debian's headless Chromium, driven over the Chrome
DevTools Protocol (CDP) with aiohttp's websocket client.

Why raw CDP: it needs nothing beyond what the project already depends on (aiohttp) and the
`chromium` package, and works offline. Playwright downloads its own browser builds at install
time; Selenium would add a dependency and the `chromium-driver` package for the handful of
calls these tests make (navigate, evaluate, click, screenshot), which CDP provides directly and
which Chromium keeps stable (the protocol's `Page`/`Runtime` domains).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.waiting import eventually

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
START_WITHIN = 30.0


def chromium_path() -> str | None:
    """The Chromium executable on PATH (Debian's `chromium` package), or None."""
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class Page:
    """One browser tab: commands are sent and answered over its DevTools websocket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[str, asyncio.Event] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if "id" in data and (future := self._waiting.pop(data["id"], None)) is not None:
                future.set_result(data)
            elif "method" in data and (event := self._events.get(data["method"])) is not None:
                event.set()
        for future in self._waiting.values():
            future.set_exception(ConnectionError("the browser closed the DevTools connection"))

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = answer
        await self._socket.send_json({"id": number, "method": method, "params": params})
        async with asyncio.timeout(30):
            data = await answer
        if "error" in data:
            raise RuntimeError(f"{method}: {data['error']}")
        return dict(data.get("result") or {})

    async def goto(self, url: str) -> None:
        """Open `url` and wait until it has loaded (scripts included)."""
        loaded = self._events.setdefault("Page.loadEventFired", asyncio.Event())
        loaded.clear()
        await self.send("Page.navigate", url=url)
        async with asyncio.timeout(30):
            await loaded.wait()

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript `expression` in the page (a promise is awaited)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return (result.get("result") or {}).get("value")

    async def until(self, expression: str, *, within: float, what: str) -> Any:
        """The value of `expression` once it is truthy."""
        return await eventually(
            lambda: self.evaluate(expression), until=bool, within=within, what=what
        )

    async def click(self, selector: str) -> None:
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    async def screenshot(self, path: Path, *, whole: bool = False) -> Path:
        """A PNG of the window (of the whole page, with `whole`) at `path`."""
        params: dict[str, Any] = {"format": "png"}
        if whole:
            metrics = await self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
            params |= {"captureBeyondViewport": True, "clip": clip}
        shot = await self.send("Page.captureScreenshot", **params)
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@contextlib.asynccontextmanager
async def chromium(executable: str, *, profile: Path) -> AsyncIterator[Page]:
    """Headless Chromium with a fresh `profile`, and its first tab; stopped afterwards."""
    process = await asyncio.create_subprocess_exec(
        executable,
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"

        async def port() -> str:
            if process.returncode is not None:
                raise RuntimeError(f"chromium exited with status {process.returncode}")
            return port_file.read_text().split("\n")[0] if port_file.exists() else ""

        found = await eventually(port, until=bool, within=START_WITHIN, what="chromium started")
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{found}/json/list") as answer:
                targets = await answer.json()
            url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
            async with session.ws_connect(url, max_msg_size=0) as socket:
                page = Page(socket)
                try:
                    await page.send("Page.enable")
                    await page.send("Runtime.enable")
                    yield page
                finally:
                    await page.close()
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()
