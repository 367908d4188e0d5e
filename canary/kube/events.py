"""Kubernetes events on the objects the controller manages, as `kubectl describe` shows them.

Recording an event is best effort: a failure is logged and never fails the reconcile that
wanted to record it. Credentials in URLs quoted by a message are masked before it is sent. It
is bounded like every request (`EVENT_TIMEOUT`): a hung API server costs a cycle that much, a
warning in the log and an `error` in `canary_api_requests_total`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import structlog
from kubernetes_asyncio.client import ApiClient, CoreV1Api, CoreV1Event
from kubernetes_asyncio.client.exceptions import ApiException

from canary.core.redaction import redact_text
from canary.kube.answers import API_SERVER, SLOW_ANSWER
from canary.kube.metrics import NO_ANSWER, count_request
from canary.kube.objects import body

COMPONENT = "canary-controller"
MAX_MESSAGE = 1024  # the API server rejects longer event messages
EVENT_TIMEOUT = 10.0  # seconds; an event is worth less than the cycle that records it

log = structlog.get_logger(__name__)


async def record_event(
    client: ApiClient,
    involved: dict[str, Any],
    *,
    reason: str,
    message: str,
    warning: bool = False,
) -> None:
    """Create an event about `involved` (a whole object: apiVersion, kind, metadata)."""
    metadata = involved["metadata"]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    event = {
        "metadata": {
            "name": f"{metadata['name']}.{secrets.token_hex(8)}",
            "namespace": metadata["namespace"],
        },
        "involvedObject": {
            "apiVersion": involved["apiVersion"],
            "kind": involved["kind"],
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        },
        "reason": reason,
        "message": redact_text(message)[:MAX_MESSAGE],
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }
    code: int | str = NO_ANSWER
    started, judged = time.monotonic(), True
    try:
        with API_SERVER.waiting("POST events"):
            async with asyncio.timeout(EVENT_TIMEOUT):
                _event, code, _headers = await CoreV1Api(
                    client
                ).create_namespaced_event_with_http_info(
                    metadata["namespace"],
                    body(event, CoreV1Event),
                    _request_timeout=EVENT_TIMEOUT,
                )
    except TimeoutError:
        log.warning(
            "event_not_recorded",
            reason=reason,
            error=f"POST events: no answer within {EVENT_TIMEOUT:g} s",
        )
    except (ApiException, OSError, aiohttp.ClientError) as error:
        if isinstance(error, ApiException):
            code = int(error.status or 0)
        log.warning("event_not_recorded", reason=reason, error=str(error))
    except asyncio.CancelledError:
        judged = time.monotonic() - started >= SLOW_ANSWER  # see canary.kube.resources
        raise
    finally:
        count_request("POST", "events", code, judged=judged)
