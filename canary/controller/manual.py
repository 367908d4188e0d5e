"""Manual control of a release, recorded on the Canary itself: pause, resume, abort, promote.

Requests are annotations, not spec fields, so a GitOps tool that owns the spec does not undo
them, and not state in some other process's memory, so a controller restart loses nothing.
`abort` and `promote` name the revision they are about (the Canary's `lastAppliedSpec` when the
request was made): a request can never apply to a later revision, and needs no clearing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import CANARY

PAUSED = "canary.dev/paused"
ABORT = "canary.dev/abort"
PROMOTE = "canary.dev/promote"
CANARIES = CANARY
UNDER_ANALYSIS = ("Progressing", "WaitingPromotion")

Request = Literal["pause", "resume", "abort", "promote"]


@dataclass(frozen=True)
class ManualRequests:
    paused: bool = False
    abort_revision: str = ""
    promote_revision: str = ""


def requests_of(annotations: Mapping[str, str]) -> ManualRequests:
    return ManualRequests(
        paused=annotations.get(PAUSED, "").lower() == "true",
        abort_revision=annotations.get(ABORT, ""),
        promote_revision=annotations.get(PROMOTE, ""),
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
    await resources.merge_patch(
        api, CANARIES, name, namespace=namespace, patch={"metadata": {"annotations": annotations}}
    )
    return f"canary {namespace}/{name}: {done}"
