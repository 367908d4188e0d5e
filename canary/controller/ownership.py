"""Before a cycle writes anything: may this Canary act at all?

A Canary is refused (`Ready=False`, and nothing written to any other object) when

* an object it would write is owned by another Canary: another Canary's primary named as its
  target, Services or a route of the same name, another one holding the same target (the rules
  of who holds a shared object are in `canary.controller.claims`); reason `Conflict`;
* a name it would give an object cannot be one (a Service name longer than 63 characters or
  with a dot, a primary's selector label value longer than 63, a copy's name longer than 253):
  every cycle would fail halfway, leaving a primary behind; reason `InvalidName`.

Everything is read through the cycle's reader (the watch caches), so an idle Canary's check costs
no API request. This module only reads and judges; the caller writes the condition.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from canary.controller.claimindex import Neighbours, Scanned
from canary.controller.claims import (
    TARGET,
    Claimant,
    Owner,
    canary_owner,
    claim_kind,
    claimant,
    conflict_message,
    label_value_fits,
    loss_to,
    name_problems,
    owned_elsewhere_message,
)
from canary.kube.resources import (
    DAEMON_SET,
    DEPLOYMENT,
    HORIZONTAL_POD_AUTOSCALER,
    HTTP_ROUTE,
    SCALED_OBJECT,
    SERVICE,
    TRAFFIC_SPLIT,
    Reader,
    ResourceKind,
)
from canary.routers.registry import route_kinds
from canary.targets.configs import copy_name
from canary.targets.deployment import PRIMARY_SUFFIX, TargetError, selector_label
from canary.targets.tracking import read_configs

CONFLICT: Final = "Conflict"
INVALID_NAME: Final = "InvalidName"
SOON: Final = 2.0  # seconds: an owner that is gone leaves its objects to the garbage collector
LATER: Final = 60.0  # seconds: another Canary holds the objects (its deletion wakes this one)

_BASE_KINDS: Final = frozenset({"Deployment", "DaemonSet", "Service", "TrafficSplit", "HTTPRoute"})
_KINDS: Final[Mapping[str, ResourceKind]] = {
    "Deployment": DEPLOYMENT,
    "DaemonSet": DAEMON_SET,
    "Service": SERVICE,
    "TrafficSplit": TRAFFIC_SPLIT,
    "HTTPRoute": HTTP_ROUTE,
    "HorizontalPodAutoscaler": HORIZONTAL_POD_AUTOSCALER,
    "ScaledObject": SCALED_OBJECT,
    # every other provider's route object (a Knative Service among them, as `Service.serving...`)
    **{claim_kind(kind): kind for kind in route_kinds() if claim_kind(kind) not in _BASE_KINDS},
}
_OBJECT_NAME_MAX: Final = 253


@dataclass(frozen=True)
class Refusal:
    """Why a Canary may not act: the reason of its Ready condition, the message, and when to
    look again."""

    reason: str
    message: str
    retry: float = LATER


async def refusal(  # noqa: PLR0913 - keyword-only: the neighbours come one way or the other
    raw: Mapping[str, Any],
    *,
    read: Reader,
    default_provider: str,
    canaries: Sequence[Mapping[str, Any]] = (),
    neighbours: Neighbours | None = None,
    claimant_of: Callable[[Mapping[str, Any]], Claimant] | None = None,
) -> Refusal | None:
    """Why the Canary `raw` may not act, or None when it may. The other Canaries of its
    namespace are `neighbours` (an index), or else `canaries` looked through one by one;
    `claimant_of` may answer `claimant` from a memo."""
    claimant_of = claimant_of or functools.partial(claimant, default_provider=default_provider)
    ours = claimant_of(raw)
    if not ours.claims:
        return None  # no target: model validation says what is wrong
    names = name_problems(ours.claims)
    if names:
        return Refusal(INVALID_NAME, _names_message(names))
    owners = {
        claim.key: canary_owner(await read(_KINDS[claim.kind], ours.namespace, claim.name))
        for claim in ours.claims
    }
    if neighbours is None:
        neighbours = Scanned(canaries, claimant_of)
    # Only Canaries that claim something ours claims can win it from us.
    others = sorted(neighbours.sharing(ours), key=lambda other: other.order)
    found = _owned_elsewhere(ours, owners, others, known=neighbours.known)
    if found is not None:
        return found
    for other in others:
        loss = loss_to(ours, other, owners)
        if loss is not None:
            return Refusal(CONFLICT, conflict_message(loss, namespace=ours.namespace))
    return await _target_names(ours, read=read)


def _owned_elsewhere(
    ours: Claimant,
    owners: Mapping[tuple[str, str], Owner | None],
    others: Sequence[Claimant],
    *,
    known: Callable[[str], bool],
) -> Refusal | None:
    """An object of ours owned by a Canary that does not claim it (a gone one, Flagger's, one
    whose service.name changed): the pairwise rules only settle what both Canaries claim.
    `others` are the Canaries sharing a claim with ours; `known` says whether a uid is a
    Canary's."""
    claimed = {(other.uid, claim.key) for other in others for claim in other.claims}
    for claim in ours.claims:
        owner = owners.get(claim.key)
        if owner is None or owner.uid == ours.uid or (owner.uid, claim.key) in claimed:
            continue
        gone = not known(owner.uid) and owner.api_version.startswith("canary.dev/")
        return Refusal(
            CONFLICT,
            owned_elsewhere_message(claim, owner, namespace=ours.namespace, known=not gone),
            retry=SOON if gone else LATER,
        )
    return None


async def _target_names(ours: Claimant, *, read: Reader) -> Refusal | None:
    """Names only the target shows: the primary's selector label value and config copies."""
    target_claim = next(claim for claim in ours.claims if claim.role == TARGET)
    if _KINDS[target_claim.kind] not in (DEPLOYMENT, DAEMON_SET):
        return None  # a Knative Service: no copy, no selector label, no config copies
    target = await read(_KINDS[target_claim.kind], ours.namespace, target_claim.name)
    template = ((target or {}).get("spec") or {}).get("template")
    if target is None or not isinstance(template, dict):
        return None  # a missing target is reported by the cycle
    problems = []
    try:
        label = selector_label(target)
    except TargetError:
        label = None  # reported by the cycle, with the labels it looks for
    if label is not None and not label_value_fits(label.value):
        problems.append(
            f"label value {label.primary_value!r} (the primary's {label.key} label, from "
            f"{target_claim.kind.lower()} {target_claim.name}'s selector) is longer than 63 "
            "characters"
        )
    configs = await read_configs(read, template, namespace=ours.namespace)
    for obj in configs.objects.values():
        name = copy_name(str((obj.get("metadata") or {}).get("name")))
        if len(name) > _OBJECT_NAME_MAX:
            problems.append(f"{obj.get('kind')} name {name!r} (the primary's copy) is too long")
    return Refusal(INVALID_NAME, _names_message(problems)) if problems else None


def _names_message(problems: Sequence[str]) -> str:
    return (
        f"cannot name the objects this Canary needs: {'; '.join(problems)}; Service names are at "
        f"most 63 characters of a-z, 0-9 and '-' (no dots), label values at most "
        f"63, object names at most 253 (the controller appends {PRIMARY_SUFFIX!r} or "
        "'-canary'): set spec.service.name, or shorten the names; nothing was created"
    )
