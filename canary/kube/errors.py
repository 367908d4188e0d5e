"""The one small hierarchy of Kubernetes API errors that code above `canary.kube` handles.

Callers decide on the kind of failure (absent, lost a race, not allowed, rejected, try again
later), never on HTTP status codes or kubernetes_asyncio's exception types, so those stay inside
this package. Each error carries the API server's own message, which is what a person needs to
act. This module only classifies; it does not retry, log or decide what a failure means.
"""

from __future__ import annotations

import json
from typing import Any


class KubeError(Exception):
    """A request to the API server failed; `message` is the server's explanation."""

    def __init__(self, message: str, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


class NotFound(KubeError):  # noqa: N818 - named after the API server's reason, as callers say it
    """404: the object (or its kind) does not exist."""


class Conflict(KubeError):  # noqa: N818 - the API server's reason
    """409: the object already exists, or it changed since it was read."""


class Forbidden(KubeError):  # noqa: N818 - the API server's reason
    """401/403: the controller's identity may not do this (RBAC or authentication)."""


class Invalid(KubeError):  # noqa: N818 - the API server's reason
    """400/422: the server rejected the request body; retrying the same body cannot help."""


class Transient(KubeError):  # noqa: N818 - names the remedy: try again later
    """429, 5xx, a timeout or a broken connection: the same request may succeed later."""


# Server-side apply answers 500 when a field has the wrong type; retrying the body cannot help.
_TYPED_PATCH_FAILURE = "failed to create typed patch object"


def _server_message(body: Any) -> tuple[str, str]:
    """The `message` and `reason` of a metav1.Status response body, when there is one."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if not isinstance(body, str) or not body:
        return "", ""
    try:
        status = json.loads(body)
    except ValueError:
        return body.strip(), ""
    if not isinstance(status, dict):
        return body.strip(), ""
    return str(status.get("message", "")), str(status.get("reason", ""))


def from_status(status: int, *, body: Any, fallback: str) -> KubeError:
    """The error for an HTTP `status` whose response `body` is (usually) a metav1.Status."""
    message, reason = _server_message(body)
    message = message or fallback or f"HTTP {status}"
    kind: type[KubeError]
    if status == 404:
        kind = NotFound
    elif status == 409:
        kind = Conflict
    elif status in (401, 403):
        kind = Forbidden
    elif status in (400, 422) or (status == 500 and _TYPED_PATCH_FAILURE in message):
        kind = Invalid
    elif status == 429 or status >= 500:
        kind = Transient
    else:
        kind = KubeError
    return kind(message, status=status, reason=reason)
