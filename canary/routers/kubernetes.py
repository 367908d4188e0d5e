"""The three ClusterIP Services of a Canary: `<svc>` (apex), `<svc>-primary` and `<svc>-canary`.

Every router needs them: the apex is the address clients use and selects the primary's pods (so
traffic is safe even without a mesh); the other two give a mesh one backend per version, and are
what blue/green switches between. This module builds them (Flagger's shape, with the annotations
that stop Flux from reverting them, the labels and annotations of `service.apex`, `.primary` and
`.canary`, and with `service.portDiscovery` the target's other container ports) and applies
them. It must not touch the route object of any mesh, nor decide when Services change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import SERVICE, CanaryRef
from canary.routers.base import CANARY_SUFFIX, GITOPS_OPT_OUT, PRIMARY_SUFFIX


@dataclass(frozen=True)
class ServiceMetadata:
    """Labels and annotations for one of the generated Services (`service.apex` etc.)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


# The containers of service-mesh proxies, whose ports port discovery leaves out (as Flagger does).
PROXY_CONTAINERS = frozenset({"istio-proxy", "envoy"})


@dataclass(frozen=True)
class ServiceSpec:
    """The Canary's `service` section, reduced to what the Services need."""

    name: str  # the apex name (service.name, else the target's name)
    port: int
    port_name: str = "http"
    target_port: int | str | None = None  # defaults to `port`
    app_protocol: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    apex: ServiceMetadata = field(default_factory=ServiceMetadata)
    primary: ServiceMetadata = field(default_factory=ServiceMetadata)
    canary: ServiceMetadata = field(default_factory=ServiceMetadata)
    # (name, port) of the target's container ports found by `service.portDiscovery`.
    discovered_ports: tuple[tuple[str, int], ...] = ()

    @property
    def primary_name(self) -> str:
        return f"{self.name}{PRIMARY_SUFFIX}"

    @property
    def canary_name(self) -> str:
        return f"{self.name}{CANARY_SUFFIX}"


def discovered_ports(
    spec: ServiceSpec, containers: Sequence[Mapping[str, Any]]
) -> tuple[tuple[str, int], ...]:
    """The container ports `service.portDiscovery` adds to the Services, as Flagger finds them:
    every port of every container but a mesh proxy's, named after the port (or
    `tcp-<container>-<index>`), except the one the Services already send to (`targetPort`, by
    number or name, else `port`). A port whose name or number the Services already use is left
    out too (Flagger would write an invalid Service)."""
    found: dict[str, int] = {}
    taken_names, taken_numbers = {spec.port_name}, {spec.port}
    for container in containers:
        if container.get("name") in PROXY_CONTAINERS:
            continue
        for index, port in enumerate(container.get("ports") or []):
            number, name = port.get("containerPort"), port.get("name")
            if not isinstance(number, int):
                continue
            target = spec.target_port if spec.target_port is not None else spec.port
            if number == target or (isinstance(target, str) and name == target):
                continue
            name = name or f"tcp-{container.get('name')}-{index}"
            if name in taken_names or number in taken_numbers or name in found:
                continue
            found[name] = number
            taken_numbers.add(number)
    return tuple(sorted(found.items(), key=lambda item: (item[1], item[0])))


def service(  # noqa: PLR0913 - keyword-only: the Service's name, pods and owner
    spec: ServiceSpec,
    *,
    name: str,
    namespace: str,
    selector: Mapping[str, str],
    label_key: str,
    owner: CanaryRef | None,
    role: ServiceMetadata | None = None,
) -> dict[str, Any]:
    """One ClusterIP Service `name` in front of the pods `selector` picks, on `spec`'s port (and
    the discovered ports), with the metadata of its `role` (`service.apex` etc.)."""
    role = role or ServiceMetadata()
    port: dict[str, Any] = {
        "name": spec.port_name,
        "protocol": "TCP",
        "port": spec.port,
        "targetPort": spec.target_port if spec.target_port is not None else spec.port,
    }
    if spec.app_protocol:
        port["appProtocol"] = spec.app_protocol
    ports = [port] + [
        {"name": other, "protocol": "TCP", "port": number, "targetPort": number}
        for other, number in spec.discovered_ports
    ]
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {**spec.labels, **role.labels, label_key: name},
        "annotations": {**spec.annotations, **role.annotations, **GITOPS_OPT_OUT},
    }
    if owner is not None:
        metadata["ownerReferences"] = [owner.owner_reference()]
    return {
        "apiVersion": SERVICE.api_version,
        "kind": SERVICE.kind,
        "metadata": metadata,
        "spec": {"type": "ClusterIP", "selector": dict(selector), "ports": ports},
    }


def services(
    spec: ServiceSpec, *, selector_label: str, selector_value: str, owner: CanaryRef
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(apex, primary, canary): the apex and primary select `<value>-primary`, canary `<value>`.

    `selector_label`/`selector_value` are the target's selector label (e.g. app: podinfo); the
    primary Deployment's pods carry the same key with `-primary` appended to the value.
    """
    primary_pods = {selector_label: f"{selector_value}{PRIMARY_SUFFIX}"}
    canary_pods = {selector_label: selector_value}

    def one(name: str, selector: Mapping[str, str], role: ServiceMetadata) -> dict[str, Any]:
        return service(
            spec,
            name=name,
            namespace=owner.namespace,
            selector=selector,
            label_key=selector_label,
            owner=owner,
            role=role,
        )

    return (
        one(spec.name, primary_pods, spec.apex),
        one(spec.primary_name, primary_pods, spec.primary),
        one(spec.canary_name, canary_pods, spec.canary),
    )


def _owned_by(existing: Mapping[str, Any], owner: CanaryRef) -> bool:
    references = (existing.get("metadata") or {}).get("ownerReferences") or []
    return any(reference.get("uid") == owner.uid for reference in references)


def _port_key(port: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a port is, without what the API server adds to it (a node port)."""
    return tuple(
        port.get(field, "TCP" if field == "protocol" else None)
        for field in ("name", "protocol", "port", "targetPort", "appProtocol")
    )


def _ports_text(ports: list[Mapping[str, Any]]) -> str:
    return ", ".join(f"{p.get('port')}/{p.get('name') or '-'}" for p in ports) or "none"


def adoption_patch(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any] | None:
    """The merge patch that gives a Service this Canary did not create the ports and selector
    of `wanted` (as Flagger does, the Canary's `service` section decides them: a port the user
    declared beside it would collide with it); None when it has them already."""
    spec, wanted_spec = existing.get("spec") or {}, wanted["spec"]
    ports, wanted_ports = list(spec.get("ports") or []), list(wanted_spec["ports"])
    selector, wanted_selector = dict(spec.get("selector") or {}), dict(wanted_spec["selector"])
    patch: dict[str, Any] = {}
    if sorted(map(_port_key, ports)) != sorted(map(_port_key, wanted_ports)):
        patch["ports"] = wanted_ports
    if selector != wanted_selector:
        patch["selector"] = {**dict.fromkeys(selector), **wanted_selector}
    return {"spec": patch} if patch else None


async def apply_services(
    api: ApiClient, spec: ServiceSpec, *, selector_label: str, selector_value: str, owner: CanaryRef
) -> str:
    """Apply the three Services (absolute: repeating it changes nothing); what was adopted.

    An apex Service that already exists and is not this Canary's (the user created it) is
    adopted as Flagger does: its ports and selector become the Canary's, and it gets no owner
    reference, so deleting the Canary does not delete it. The description of that change is
    returned ("" when there was none) for the Canary's events.
    """
    apex, primary, canary = services(
        spec, selector_label=selector_label, selector_value=selector_value, owner=owner
    )
    existing = await resources.get(api, SERVICE, spec.name, namespace=owner.namespace)
    adopted = ""
    if existing is not None and not _owned_by(existing, owner):
        apex["metadata"].pop("ownerReferences", None)
        patch = adoption_patch(existing, apex)
        if patch is not None:
            # Before the apply: merged with the user's ports, the Canary's could collide.
            await resources.merge_patch(
                api, SERVICE, spec.name, namespace=owner.namespace, patch=patch
            )
            before = _ports_text((existing.get("spec") or {}).get("ports") or [])
            adopted = (
                f"Service {owner.namespace}/{spec.name} was not created by this Canary: adopted "
                f"it with the ports and selector of spec.service (ports {before} -> "
                f"{_ports_text(apex['spec']['ports'])}); it is kept when the Canary is deleted"
            )
    for manifest in (primary, canary, apex):
        await resources.apply(api, manifest)
    return adopted
