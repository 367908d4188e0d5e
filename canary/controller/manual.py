"""Manual control of a release, recorded on the Canary itself: pause, resume, abort, promote,
retry.

Requests are annotations, not spec fields, so a GitOps tool that owns the spec does not undo
them, and not state in some other process's memory, so a controller restart loses nothing.
`abort` and `promote` name the revision they are about (the Canary's `lastAppliedSpec` when the
request was made): a request can never apply to a later revision, and needs no clearing.
`retry` names the failed revision and the failure (`<revision>@<phaseSince>` of the Failed
phase), so it is honoured once: if the retried run fails again, that is a new failure. Once no
run is under way, the controller removes abort and promote requests (`clear_spent`): they were
about a run that has ended, and must not stop a later run of the same revision (a retry, or the
revision applied again after a revert).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from canary.api.base import parse_timestamp
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import CANARY

PAUSED = "canary.dev/paused"
ABORT = "canary.dev/abort"
PROMOTE = "canary.dev/promote"
RETRY = "canary.dev/retry"
CANARIES = CANARY
UNDER_ANALYSIS = ("Progressing", "WaitingPromotion")

Request = Literal["pause", "resume", "abort", "promote", "retry"]


@dataclass(frozen=True)
class ManualRequests:
    paused: bool = False
    abort_revision: str = ""
    promote_revision: str = ""
    retry_revision: str = ""
    retry_failed_at: datetime | None = None


def requests_of(annotations: Mapping[str, str]) -> ManualRequests:
    revision, _, failed_at = annotations.get(RETRY, "").partition("@")
    return ManualRequests(
        paused=annotations.get(PAUSED, "").lower() == "true",
        abort_revision=annotations.get(ABORT, ""),
        promote_revision=annotations.get(PROMOTE, ""),
        retry_revision=revision,
        retry_failed_at=parse_timestamp(failed_at),
    )


class RequestError(Exception):
    """The request makes no sense for the Canary as it is (says why)."""


async def make_request(api: ApiClient, *, namespace: str, name: str, request: Request) -> str:
    """Record `request` on the Canary; returns what was done, for people."""
    canary = await resources.get(api, CANARIES, name, namespace=namespace)
    if canary is None:
        raise RequestError(f"canary {namespace}/{name} not found")
    status = canary.get("status") or {}
    phase, revision = status.get("phase"), status.get("lastAppliedSpec", "")
    annotations: dict[str, str | None]
    match request:
        case "pause":
            annotations, done = {PAUSED: "true"}, "paused: nothing moves until `resume`"
        case "resume":
            annotations, done = {PAUSED: None}, "resumed"
        case "abort" | "promote":
            if phase not in UNDER_ANALYSIS:
                raise RequestError(f"nothing to {request}: canary {namespace}/{name} is {phase}")
            key = ABORT if request == "abort" else PROMOTE
            annotations = {key: revision}
            done = (
                f"revision {revision} will be rolled back now"
                if request == "abort"
                else f"revision {revision} will be promoted once the current checks pass"
            )
        case "retry":
            if phase != "Failed" or not status.get("phaseSince"):
                raise RequestError(
                    f"nothing to retry: canary {namespace}/{name} is {phase}, not Failed"
                )
            annotations = {RETRY: f"{revision}@{status['phaseSince']}"}
            done = f"revision {revision} will be analysed again from the start"
    await resources.merge_patch(
        api, CANARIES, name, namespace=namespace, patch={"metadata": {"annotations": annotations}}
    )
    return f"canary {namespace}/{name}: {done}"


SPENT_IN = ("Initialized", "Succeeded", "Failed")


async def clear_spent(api: ApiClient, canary: Mapping[str, Any], *, phase: str) -> None:
    """Remove abort and promote requests from a Canary whose run has ended (`phase` is steady)."""
    metadata = canary.get("metadata") or {}
    annotations = metadata.get("annotations") or {}
    spent = [key for key in (ABORT, PROMOTE) if key in annotations]
    if phase not in SPENT_IN or not spent:
        return
    await resources.merge_patch(
        api,
        CANARIES,
        metadata["name"],
        namespace=metadata["namespace"],
        patch={"metadata": {"annotations": dict.fromkeys(spent)}},
    )
