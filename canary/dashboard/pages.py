"""The pages: `/` lists the Canaries, `/canaries/<namespace>/<name>` shows one, and the actions.

Each page is server-rendered HTML, or the same content as JSON to `Accept: application/json`.
Everything is read and written as the caller (`access.Access`); a refusal of the API server
reaches the person with the API server's own message and status (403, 404...).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, get_args

import jinja2
import structlog
from aiohttp import web

from canary.api.status import Phase
from canary.controller.manual import Request, RequestError, make_request
from canary.dashboard import model
from canary.dashboard.access import Access
from canary.dashboard.security import caller_of, csrf_token
from canary.dashboard.signals import metrics_of, template_refs
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.errors import Forbidden, KubeError, NotFound
from canary.kube.resources import CANARY, METRIC_TEMPLATE
from canary.views.summary import NO_CRD
from canary.views.timeline import EVENTS, events_about

log = structlog.get_logger(__name__)

ACCESS: Final = web.AppKey("access", Access)
SECRET: Final = web.AppKey("secret", bytes)
TEMPLATES: Final = web.AppKey("templates", jinja2.Environment)
PROMETHEUS: Final = web.AppKey("prometheus", str)
ACTIONS: Final[dict[str, Request]] = {name: name for name in get_args(Request)}
PHASES: Final = tuple(str(phase) for phase in Phase)
NOT_ASKED: Final = "not asked (?metrics=no)"


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _answer(request: web.Request, template: str, data: dict[str, Any]) -> web.Response:
    if wants_json(request):
        return web.json_response(data)
    page = request.app[TEMPLATES].get_template(template).render(**data)
    return web.Response(text=page, content_type="text/html")


def _common(request: web.Request) -> dict[str, Any]:
    caller = caller_of(request)
    return {"user": caller.name, "csrfToken": csrf_token(request.app[SECRET], caller)}


def kube_status(error: KubeError) -> int:
    """The HTTP status to show for a refusal: the API server's own, when it is a client error."""
    status = error.status or 502
    return status if 400 <= status < 500 else 502


async def list_page(request: web.Request) -> web.Response:
    namespace = request.query.get("namespace", "").strip() or None
    phase = request.query.get("phase", "").strip() or None
    problem = ""
    listed: list[dict[str, Any]] = []
    async with request.app[ACCESS].client(caller_of(request)) as api:
        try:
            found = await resources.list_objects(api, CANARY, namespace=namespace)
        except Forbidden as error:
            problem = error.message
            if namespace is None:
                problem += " (choose a namespace you may read)"
        else:
            listed, problem = found or [], "" if found is not None else NO_CRD
    data = {
        **_common(request),
        "namespace": namespace,
        "phase": phase,
        "phases": PHASES,
        "problem": problem,
        "canaries": model.rows(listed, phase=phase),
    }
    return _answer(request, "list.html", data)


async def detail_page(request: web.Request) -> web.Response:
    """One Canary; `?metrics=no` leaves Prometheus out (the page's own live refreshes)."""
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    events_problem = ""
    async with request.app[ACCESS].client(caller_of(request)) as api:
        canary = await resources.get(api, CANARY, name, namespace=namespace)
        if canary is None:
            raise NotFound(f'canary "{name}" not found in namespace "{namespace}"', status=404)
        try:
            listed = await resources.list_objects(api, EVENTS, namespace=namespace) or []
        except KubeError as error:  # the page without its timeline is still worth showing
            listed, events_problem = [], f"events unavailable: {error.message}"
        templates = {key: await _readable_template(api, key) for key in template_refs(canary)}
    uid = str((canary.get("metadata") or {}).get("uid") or "")
    events = events_about(listed, name=name, uid=uid)
    now = datetime.now(UTC)
    data = {
        **_common(request),
        "canary": model.detail(canary, events, now=now),
        "eventsProblem": events_problem,
        "metrics": (
            await metrics_of(
                canary, events, templates=templates, url=request.app[PROMETHEUS], now=now
            )
            if request.query.get("metrics") != "no"
            else {"golden": {"problem": NOT_ASKED}, "checks": {}, "prometheus": ""}
        ),
    }
    return _answer(request, "detail.html", data)


async def _readable_template(api: ApiClient, key: tuple[str, str]) -> dict[str, Any] | None:
    """The MetricTemplate `key` as the caller may read it; None when absent or refused."""
    try:
        return await resources.get(api, METRIC_TEMPLATE, key[1], namespace=key[0])
    except KubeError:
        return None


async def action(request: web.Request) -> web.Response:
    """POST /canaries/<namespace>/<name>/<action>: the annotation `canary <action>` writes."""
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    requested = ACTIONS.get(request.match_info["action"])
    if requested is None:
        known = ", ".join(ACTIONS)
        raise web.HTTPNotFound(text=f"no action {request.match_info['action']!r}; actions: {known}")
    caller = caller_of(request)
    logged = log.bind(user=caller.name, namespace=namespace, canary=name, action=requested)
    async with request.app[ACCESS].client(caller) as api:
        try:
            message = await make_request(api, namespace=namespace, name=name, request=requested)
        except RequestError as error:
            logged.info("dashboard_action_not_applicable", message=str(error))
            return web.json_response({"message": str(error)}, status=409)
        except KubeError as error:
            logged.info("dashboard_action_refused", status=error.status, message=error.message)
            raise
    logged.info("dashboard_action", message=message)
    return web.json_response({"message": message})


@web.middleware
async def errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """A refusal (of the API server, with its own message and status; or of this server), as
    JSON to scripts and to the pages' actions, as text otherwise."""
    try:
        response: web.StreamResponse = await handler(request)
    except KubeError as error:
        status, message, headers = kube_status(error), error.message, {}
    except web.HTTPException as error:
        if error.status < 400:
            raise
        status, message, headers = error.status, error.text or error.reason, dict(error.headers)
    else:
        return response
    headers.pop("Content-Type", None)
    headers.pop("Content-Length", None)
    if wants_json(request) or request.method == "POST":
        return web.json_response({"message": message}, status=status, headers=headers)
    return web.Response(text=message, status=status, headers=headers)
