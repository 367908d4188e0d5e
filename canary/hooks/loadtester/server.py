"""The load tester's HTTP API: Flagger's endpoints, with durable gates and no shell by default.

- `GET /healthz`: 200 `OK`.
- `POST /gate/approve` (200) and `/gate/halt` (403): fixed answers.
- `POST /gate/check` and `/rollback/check`: 200 `Approved` when the canary's gate is open, else
  403 (`Forbidden`); 503 when the ConfigMap cannot be read (a gate whose state is unknown stays
  shut). `/gate/open`, `/gate/close`, `/rollback/open`, `/rollback/close`: 202.
- `POST /`: a task, from a webhook payload's metadata. `cmd` holding a `hey` command, or the
  fields `url`, `duration`, `rps`, `concurrency`, `requests`, `method`, run the built-in load
  generator. Any other command runs in a shell only when the operator passed `--allow-commands`
  (403 otherwise). A task runs in the background (200 at once; an identical task of the same
  canary still running is not started twice) unless `blocking: "true"` (or Flagger's blocking
  `type: bash`): then the answer comes when it is done, with its report in JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from canary.hooks.loadtester.gates import GateKind, GateStore
from canary.hooks.loadtester.hey import is_hey_command, parse_go_duration, parse_hey
from canary.hooks.loadtester.load import LoadSpec, generate
from canary.http.bodies import keep_tail, read_at_most
from canary.kube.errors import KubeError

log = logging.getLogger("canary.hooks.loadtester")

MAX_REQUEST_BYTES: Final = 1 << 20
MAX_OUTPUT_BYTES: Final = 64 * 1024
DEFAULT_STRUCTURED_CONCURRENCY: Final = 10
_SHELL_TYPES: Final = frozenset({"cmd", "bash"})
_LOAD_FIELDS: Final = ("url", "duration", "rps", "concurrency", "requests", "method")


@dataclass
class Settings:
    allow_commands: bool = False
    # The longest a task may run (Flagger's -timeout, default 1h).
    task_timeout: float = 3600.0


@dataclass
class _State:
    settings: Settings
    gates: GateStore
    running: dict[str, asyncio.Task[Any]] = field(default_factory=dict)


_STATE: Final = web.AppKey("state", _State)


class BadRequestError(ValueError):
    """The request cannot be served as sent (400)."""


@dataclass(frozen=True)
class _Task:
    canary: str  # namespace/name
    description: str
    blocking: bool
    run: Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


async def _payload(request: web.Request) -> dict[str, Any]:
    body = await read_at_most(request.content, MAX_REQUEST_BYTES)
    if body.truncated:
        raise BadRequestError(f"request body larger than {MAX_REQUEST_BYTES} bytes")
    try:
        document = json.loads(body.data or b"{}")
    except ValueError as error:
        raise BadRequestError(f"invalid JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadRequestError("the payload must be a JSON object")
    return document


def _canary(document: Mapping[str, Any]) -> tuple[str, str]:
    name, namespace = document.get("name"), document.get("namespace")
    if not isinstance(name, str) or not name or not isinstance(namespace, str) or not namespace:
        raise BadRequestError("the payload needs the canary's name and namespace")
    return namespace, name


def _gate_handler(
    kind: GateKind, action: str
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[_STATE]
        try:
            namespace, name = _canary(await _payload(request))
            if action == "check":
                if await state.gates.is_open(kind, namespace, name):
                    return web.Response(text="Approved")
                return web.Response(status=403, text="Forbidden")
            await state.gates.set_open(kind, namespace, name, is_open=action == "open")
        except (BadRequestError, ValueError) as error:
            return web.Response(status=400, text=str(error))
        except KubeError as error:
            log.warning("%s %s: %s", kind.value, action, error.message)
            return web.Response(status=503, text=f"gate state unavailable: {error.message}")
        log.info("%s %s: %s.%s", kind.value, action, name, namespace)
        return web.Response(
            status=202, text=f"{kind.value} {'opened' if action == 'open' else 'closed'}"
        )

    return handle


async def _approve(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="OK")


async def _halt(_request: web.Request) -> web.StreamResponse:
    return web.Response(status=403, text="Forbidden")


async def _healthz(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="OK")


def _structured_load(metadata: Mapping[str, Any]) -> LoadSpec:
    def number(key: str) -> float | None:
        value = metadata.get(key)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise BadRequestError(f"metadata.{key}: expected a number, got {value!r}") from None

    duration = metadata.get("duration")
    seconds: float | None = None
    if duration not in (None, ""):
        try:
            seconds = (
                float(duration)
                if isinstance(duration, int | float)
                else parse_go_duration(str(duration))
            )
        except ValueError as error:
            raise BadRequestError(f"metadata.duration: {error}") from None
    requests = number("requests")
    concurrency = number("concurrency")
    return LoadSpec(
        url=str(metadata["url"]),
        method=str(metadata.get("method") or "GET").upper(),
        duration=seconds,
        requests=int(requests) if requests is not None else None,
        rate=number("rps"),
        concurrency=int(concurrency) if concurrency is not None else DEFAULT_STRUCTURED_CONCURRENCY,
    )


def _load_task(canary: str, spec: LoadSpec, description: str, settings: Settings) -> _Task:
    if spec.duration is not None and spec.duration > settings.task_timeout:
        raise BadRequestError(
            f"duration {spec.duration:g} s exceeds the task timeout {settings.task_timeout:g} s"
        )

    async def run() -> tuple[int, dict[str, Any]]:
        async with asyncio.timeout(settings.task_timeout):
            report = await generate(spec)
        return 200, report.to_json()

    return _Task(canary, description, blocking=False, run=run)


def _shell_task(canary: str, command: str, settings: Settings) -> _Task:
    async def run() -> tuple[int, dict[str, Any]]:
        process = await asyncio.create_subprocess_shell(
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None  # noqa: S101 - asked for with PIPE above
        try:
            async with asyncio.timeout(settings.task_timeout):
                # Only the output's end is kept, however much the command writes.
                output = await keep_tail(process.stdout, MAX_OUTPUT_BYTES)
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()
            return 500, {"error": f"timed out after {settings.task_timeout:g} s"}
        text = output.data.decode("utf-8", errors="replace")
        code = 200 if process.returncode == 0 else 500
        return code, {"exitCode": process.returncode, "output": text}

    return _Task(canary, command, blocking=False, run=run)


def _task(document: Mapping[str, Any], settings: Settings) -> _Task:
    namespace, name = _canary(document)
    canary = f"{namespace}/{name}"
    metadata = document.get("metadata")
    if not isinstance(metadata, dict) or not metadata:
        raise BadRequestError("metadata not found in payload")
    kind = str(metadata.get("type") or "cmd")
    blocking = str(metadata.get("blocking", "")).lower() == "true" or kind == "bash"
    command = metadata.get("cmd")
    try:
        if isinstance(command, str) and command.strip():
            if is_hey_command(command):
                task = _load_task(canary, parse_hey(command), command, settings)
            elif kind not in _SHELL_TYPES:
                raise BadRequestError(f"unsupported task type {kind!r} (supported: cmd, bash)")
            elif not settings.allow_commands:
                raise PermissionError(
                    "running shell commands is disabled; start the load tester with"
                    " --allow-commands to run them (hey commands run built in)"
                )
            else:
                task = _shell_task(canary, command, settings)
        elif "url" in metadata:
            spec = _structured_load(metadata)
            fields = {k: metadata[k] for k in _LOAD_FIELDS if k in metadata}
            task = _load_task(canary, spec, json.dumps(fields, sort_keys=True), settings)
        else:
            raise BadRequestError("metadata has neither cmd nor url")
    except ValueError as error:
        raise BadRequestError(str(error)) from None
    return _Task(task.canary, task.description, blocking, task.run)


async def _run_task(request: web.Request) -> web.StreamResponse:
    state = request.app[_STATE]
    try:
        task = _task(await _payload(request), state.settings)
    except BadRequestError as error:
        return web.Response(status=400, text=str(error))
    except PermissionError as error:
        return web.Response(status=403, text=str(error))
    if task.blocking:
        log.info("running %s for %s", task.description, task.canary)
        code, report = await task.run()
        return web.json_response(report, status=code)
    key = f"{task.canary} {task.description}"
    if key in state.running:
        return web.json_response({"message": f"already running: {task.description}"})

    async def background() -> None:
        try:
            code, report = await task.run()
            log.info("finished %s for %s: %s %s", task.description, task.canary, code, report)
        except Exception:
            log.exception("task %s for %s failed", task.description, task.canary)
        finally:
            state.running.pop(key, None)

    state.running[key] = asyncio.create_task(background())
    log.info("started %s for %s", task.description, task.canary)
    return web.json_response({"message": f"started: {task.description}"})


async def _stop_tasks(app: web.Application) -> None:
    running = list(app[_STATE].running.values())
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)


def build_app(gates: GateStore, settings: Settings | None = None) -> web.Application:
    """The load tester's aiohttp application."""
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app[_STATE] = _State(settings or Settings(), gates)
    app.router.add_get("/healthz", _healthz)
    app.router.add_route("*", "/gate/approve", _approve)
    app.router.add_route("*", "/gate/halt", _halt)
    for kind in GateKind:
        for action in ("check", "open", "close"):
            app.router.add_post(f"/{kind.value}/{action}", _gate_handler(kind, action))
    app.router.add_post("/", _run_task)
    app.on_shutdown.append(_stop_tasks)
    return app
