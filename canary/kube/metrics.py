"""The controller's count of its own requests to the Kubernetes API server.

Defined here, not in `canary.telemetry`, because the kube layer is what sends the requests and
it sits below telemetry: `canary.telemetry.metrics` re-exports these. Labels:

- `verb`: GET, LIST (a GET of a collection), WATCH, POST, PUT, PATCH or DELETE;
- `resource`: the plural of the resource type, with the subresource after a slash
  (`canaries/status`);
- `code`: the HTTP status code of the answer, or `error` when no answer came (timeout,
  connection refused, reset).

`canary_api_request_duration_seconds{verb, resource}` is the time from sending a request to its
answer (watches excluded: they last as long as they are open), as client-go's
`rest_client_request_duration_seconds` is: where a cycle's time goes when the server is loaded.

`canary_api_http2_connections_total` counts the HTTP/2 connections opened (`canary.kube.transport`):
steady at one while the API server keeps it, so a rise shows connections lost.

Every counted request is also judged in `canary.kube.answers` (does the API server answer?).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

from canary.kube.answers import API_SERVER

API_REQUESTS: Final = Counter(
    "canary_api_requests_total",
    "Requests the controller sent to the Kubernetes API server, by verb, resource and status code "
    "(code 'error' when no answer came).",
    ["verb", "resource", "code"],
)

API_REQUEST_DURATION: Final = Histogram(
    "canary_api_request_duration_seconds",
    "Seconds from sending a request to the Kubernetes API server to its answer (or to giving up "
    "on it), by verb and resource; watches are not included.",
    ["verb", "resource"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

API_CONNECTIONS: Final = Counter(
    "canary_api_http2_connections_total",
    "HTTP/2 connections the controller opened to the Kubernetes API server (one carries every "
    "request and watch; another opens when one is lost, or when the open streams exceed the "
    "server's per-connection limit).",
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


def count_path(
    method: str, path: str, code: int | str, *, judged: bool = True, seconds: float | None = None
) -> None:
    """Count one request to `path` (see `describe`), answered after `seconds` if given."""
    verb, resource = describe(method, path)
    count_request(verb, resource, code, judged=judged)
    if seconds is not None:
        API_REQUEST_DURATION.labels(verb=verb, resource=resource).observe(seconds)
