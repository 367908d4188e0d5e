"""The controller's count of its own requests to the Kubernetes API server.

Defined here, not in `canary.telemetry`, because the kube layer is what sends the requests and
it sits below telemetry: `canary.telemetry.metrics` re-exports these. Labels:

- `verb`: GET, LIST (a GET of a collection), WATCH, POST, PUT, PATCH or DELETE;
- `resource`: the plural of the resource type, with the subresource after a slash
  (`canaries/status`);
- `code`: the HTTP status code of the answer, or `error` when no answer came (timeout,
  connection refused, reset).

Every counted request is also judged in `canary.kube.answers` (does the API server answer?).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

from canary.kube.answers import API_SERVER

API_REQUESTS: Final = Counter(
    "canary_api_requests_total",
    "Requests the controller sent to the Kubernetes API server, by verb, resource and status code "
    "(code 'error' when no answer came).",
    ["verb", "resource", "code"],
)

NO_ANSWER: Final = "error"
_NAMESPACE_SUBRESOURCES: Final = frozenset({"status", "finalize"})


def describe(method: str, path: str) -> tuple[str, str]:
    """The `verb` and `resource` labels of a `method` request for the URL path `path`.

    `/api/v1/namespaces/ns/services` -> (LIST or POST, services);
    `/apis/g/v1/namespaces/ns/canaries/name/status` -> (PUT, canaries/status);
    `/api/v1/namespaces/name` -> (GET, namespaces).
    """
    verb = method.upper()
    segments = [part for part in path.split("?", 1)[0].split("/") if part]
    if segments == ["version"]:
        return verb, "version"
    if segments[:1] == ["api"]:
        rest = segments[2:]
    elif segments[:1] == ["apis"]:
        rest = segments[3:]
    else:
        return verb, "unknown"
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        rest = rest[2:]  # /namespaces/<namespace>/<plural>/...
    if not rest:
        return verb, "unknown"
    resource = rest[0] if len(rest) < 3 else f"{rest[0]}/{rest[2]}"
    if verb == "GET" and len(rest) == 1:
        verb = "LIST"
    return verb, resource


def count_request(verb: str, resource: str, code: int | str, *, judged: bool = True) -> None:
    """Count one request; `code` 0 (the client's "no status") counts as no answer. Unless
    `judged` is False (the caller gave up on it early, e.g. its cycle was cancelled), it also
    counts as evidence of whether the API server answers (`canary.kube.answers`)."""
    label = str(code) if code else NO_ANSWER
    API_REQUESTS.labels(verb=verb, resource=resource, code=label).inc()
    if judged:
        API_SERVER.note(f"{verb} {resource}", code)


def count_path(method: str, path: str, code: int | str, *, judged: bool = True) -> None:
    """Count one request to `path` (see `describe`)."""
    verb, resource = describe(method, path)
    count_request(verb, resource, code, judged=judged)
