"""What a Canary holds: the objects it writes, and which Canary wins when two want the same one.

A Canary writes its target Deployment or DaemonSet (scaling or parking it) and the objects it
derives from the target's and the apex Service's names: `<target>-primary`, the Services
`<apex>`, `<apex>-primary` and `<apex>-canary`, the route object `<apex>` and the autoscaler's
copy `<hpa>-primary` (an HPA or a KEDA ScaledObject). These are its *claims*. Two
Canaries of one namespace whose claims meet must not both act (they would scale each other's
workloads and rewrite each other's Services), so exactly one of them holds what they share:

1. the one that already owns (controller owner reference) one of the shared objects, unless
   both do;
2. else the one that would create the shared object over the one that merely targets it (a
   Canary naming another's primary as its target never takes that primary over);
3. else the one created first (creationTimestamp, then name: a stable order).

Every Canary evaluates the same rules on the same objects, so they agree on the holder without
talking to each other. Claims are read from the raw object, leniently, so that a Canary whose
spec does not validate still counts as a claimant, and so that a Canary being deleted can be
judged. This module is pure: the reads are `canary.controller.ownership`'s.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from canary.kube.resources import KNATIVE_SERVICE, ResourceKind
from canary.routers.registry import router_kind

PRIMARY: Final = "-primary"
CANARY: Final = "-canary"
TARGET: Final = "target"  # the one role that is not created but only written to

# A DNS-1123 label (Service names, Kubernetes 1.34+) and subdomain (every other object name).
_SERVICE_NAME: Final = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE_MAX: Final = 63
_OBJECT_NAME_MAX: Final = 253


@dataclass(frozen=True)
class Claim:
    """One object a Canary writes: its kind and name (in the Canary's namespace), and why."""

    kind: str  # Deployment, Service, TrafficSplit, HTTPRoute, HorizontalPodAutoscaler, ...
    name: str
    role: str  # "target", "primary Deployment", "apex Service", ...

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


@dataclass(frozen=True)
class Claimant:
    """A Canary as far as ownership goes: who it is, and what it claims."""

    namespace: str
    name: str
    uid: str
    created: str  # creationTimestamp (RFC 3339, so it sorts as text)
    claims: tuple[Claim, ...]

    @property
    def order(self) -> tuple[str, str]:
        return (self.created, self.name)

    @functools.cached_property
    def keys(self) -> frozenset[tuple[str, str]]:
        """What it claims, as (kind, name) keys: to find the Canaries that share a claim."""
        return frozenset(claim.key for claim in self.claims)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _section(raw: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    node: Any = raw
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else {}


# Kinds whose plain name is taken by a core or apps kind: another group's kind of that name
# (a Knative Service) is claimed as `<kind>.<group>`.
_CORE_KIND_NAMES: Final = frozenset({"Service", "Deployment", "DaemonSet"})
_CORE_API_VERSIONS: Final = frozenset({"v1", "apps/v1"})
KNATIVE_TARGET: Final = "Service"  # targetRef kind of a Knative Service


def claim_kind(resource: ResourceKind) -> str:
    """How claims name objects of `resource`: its kind, qualified by its API group when a core
    kind has the same name."""
    if resource.kind in _CORE_KIND_NAMES and resource.api_version not in _CORE_API_VERSIONS:
        return f"{resource.kind}.{resource.api_version.split('/')[0]}"
    return resource.kind


def route_kind(provider: str) -> str | None:
    """The kind of the route object `provider` writes (named after the apex), None for none
    (or for a provider that does not exist: such a Canary is refused before it claims)."""
    try:
        resource = router_kind(provider).route
    except ValueError:
        return None
    return claim_kind(resource) if resource is not None else None


def claimant(raw: Mapping[str, Any], *, default_provider: str) -> Claimant:
    """The Canary `raw` and its claims (none when it names no target)."""
    metadata, spec = _section(raw, "metadata"), _section(raw, "spec")
    target_ref = _section(spec, "targetRef")
    target = _text(target_ref.get("name"))
    workload = "DaemonSet" if target_ref.get("kind") == "DaemonSet" else "Deployment"
    claims: list[Claim] = []
    if target and target_ref.get("kind") == KNATIVE_TARGET:
        # A Knative Service is its own route: nothing is copied, no Service is generated.
        claims.append(Claim(claim_kind(KNATIVE_SERVICE), target, TARGET))
    elif target:
        apex = _text(_section(spec, "service").get("name")) or target
        claims += [
            Claim(workload, target, TARGET),
            Claim(workload, target + PRIMARY, f"primary {workload}"),
            Claim("Service", apex, "apex Service"),
            Claim("Service", apex + PRIMARY, "primary Service"),
            Claim("Service", apex + CANARY, "canary Service"),
        ]
        kind = route_kind(_text(spec.get("provider")) or default_provider)
        if kind is not None:
            claims.append(Claim(kind, apex, "route"))
        autoscaler = _section(spec, "autoscalerRef")
        scaler = _text(autoscaler.get("name"))
        if scaler and _text(autoscaler.get("kind")) == "ScaledObject":
            claims.append(Claim("ScaledObject", scaler + PRIMARY, "primary ScaledObject"))
        elif scaler:
            claims.append(Claim("HorizontalPodAutoscaler", scaler + PRIMARY, "primary HPA"))
    return Claimant(
        namespace=_text(metadata.get("namespace")),
        name=_text(metadata.get("name")),
        uid=_text(metadata.get("uid")),
        created=_text(metadata.get("creationTimestamp")),
        claims=tuple(claims),
    )


@dataclass(frozen=True)
class Owner:
    """The Canary an object's controller owner reference names."""

    name: str
    uid: str
    api_version: str


def canary_owner(obj: Mapping[str, Any] | None) -> Owner | None:
    """The Canary (of any group: Flagger's too) that controls `obj`, or None."""
    for reference in _section(obj or {}, "metadata").get("ownerReferences") or []:
        if (
            isinstance(reference, Mapping)
            and reference.get("controller") is True
            and reference.get("kind") == "Canary"
        ):
            return Owner(
                name=_text(reference.get("name")),
                uid=_text(reference.get("uid")),
                api_version=_text(reference.get("apiVersion")),
            )
    return None


Owners = Mapping[tuple[str, str], Owner | None]  # (kind, name) -> the Canary owning it


@dataclass(frozen=True)
class Loss:
    """Why `ours` may not act: `theirs` holds `claim`, which it has as `their_role`."""

    claim: Claim
    their_role: str
    holder: str  # "namespace/name" of the Canary that holds it
    because: str


def loss_to(ours: Claimant, theirs: Claimant, owners: Owners) -> Loss | None:
    """How `ours` loses to `theirs` over the objects they both claim; None when it does not."""
    their_roles = {claim.key: claim.role for claim in theirs.claims}
    shared = [claim for claim in ours.claims if claim.key in their_roles]
    if not shared or theirs.uid == ours.uid:
        return None
    verdict = _verdict(ours, theirs, shared, their_roles, owners)
    if verdict is None:
        return None
    claim, because = verdict
    return Loss(claim, their_roles[claim.key], f"{theirs.namespace}/{theirs.name}", because)


def _verdict(
    ours: Claimant,
    theirs: Claimant,
    shared: list[Claim],
    their_roles: Mapping[tuple[str, str], str],
    owners: Owners,
) -> tuple[Claim, str] | None:
    """The shared claim `ours` loses, and why (rules 1 to 3 above); None when it wins."""
    owned_by = {c.key: owner.uid for c in shared if (owner := owners.get(c.key)) is not None}
    if (theirs.uid in owned_by.values()) != (ours.uid in owned_by.values()):
        if ours.uid in owned_by.values():
            return None
        owned = next(c for c in shared if owned_by.get(c.key) == theirs.uid)
        return shared[0], f"it owns {owned.kind} {owned.name}"
    we_target = [c for c in shared if c.role == TARGET and their_roles[c.key] != TARGET]
    they_target = any(c.role != TARGET and their_roles[c.key] == TARGET for c in shared)
    if bool(we_target) != they_target:
        return None if they_target else (we_target[0], "it creates that object")
    if ours.order < theirs.order:
        return None
    return shared[0], "it was created first"


def conflict_message(loss: Loss, *, namespace: str) -> str:
    claim = loss.claim
    return (
        f"{claim.kind} {namespace}/{claim.name} (this Canary's {claim.role}) is the "
        f"{loss.their_role} of Canary {loss.holder}, which holds it ({loss.because}); this "
        "Canary changes nothing while another one holds its objects: delete this Canary, or give "
        "it another target or service.name"
    )


def owned_elsewhere_message(claim: Claim, owner: Owner, *, namespace: str, known: bool) -> str:
    """The refusal for an object owned by a Canary that is not a claimant of this namespace."""
    where = f"{claim.kind} {namespace}/{claim.name} (this Canary's {claim.role})"
    if owner.api_version.startswith("canary.dev/") and not known:
        return (
            f"{where} is still owned by Canary {namespace}/{owner.name}, which no longer "
            "exists: waiting for the garbage collector to delete it"
        )
    return (
        f"{where} is owned by Canary {namespace}/{owner.name} ({owner.api_version}); this "
        "Canary changes nothing while another one holds its objects"
    )


def name_problems(claims: Iterable[Claim]) -> list[str]:
    """The derived names that no object could have (a Service name is a DNS-1123 label)."""
    found = []
    for claim in claims:
        if claim.role == TARGET:
            continue
        if claim.kind == "Service" and (
            len(claim.name) > _LABEL_VALUE_MAX or not _SERVICE_NAME.fullmatch(claim.name)
        ):
            found.append(f"Service name {claim.name!r} (the {claim.role}) is not valid")
        elif len(claim.name) > _OBJECT_NAME_MAX:
            found.append(f"{claim.kind} name {claim.name!r} (the {claim.role}) is too long")
    return found


def label_value_fits(value: str) -> bool:
    """Whether the primary's selector label value `<value>-primary` is a valid label value."""
    return len(value + PRIMARY) <= _LABEL_VALUE_MAX
