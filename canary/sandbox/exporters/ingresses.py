"""What the simulated ingress controllers (`nginx.py`, `skipper.py`) read alike in an Ingress:
its class, its paths and the request rate the simulator gives it. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canary.sandbox.meshsim_objects import RATE_ANNOTATION, parse_rate


def ingress_class(manifest: Mapping[str, Any]) -> str:
    """`spec.ingressClassName`, else the `kubernetes.io/ingress.class` annotation."""
    spec = manifest.get("spec") or {}
    annotations = (manifest.get("metadata") or {}).get("annotations") or {}
    return str(spec.get("ingressClassName") or annotations.get("kubernetes.io/ingress.class", ""))


@dataclass(frozen=True)
class IngressPath:
    """One path of an Ingress: where it is (host, path) and the Service it sends to."""

    host: str
    path: str
    service: str


def ingress_paths(manifest: Mapping[str, Any]) -> list[IngressPath]:
    """The paths of an Ingress that send to a Service."""
    found = []
    for rule in (manifest.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            service = ((path.get("backend") or {}).get("service") or {}).get("name")
            if service:
                found.append(IngressPath(rule.get("host", ""), path.get("path", "/"), service))
    return found


def ingress_rate(manifest: Mapping[str, Any], problems: list[str]) -> float | None:
    """The Ingress's `meshsim.canary.dev/rate` (None: the default rate); a bad one is added
    to `problems` and left out."""
    meta = manifest.get("metadata") or {}
    value = (meta.get("annotations") or {}).get(RATE_ANNOTATION)
    if value is None:
        return None
    try:
        return parse_rate(str(value))
    except ValueError as error:
        where = f"Ingress {meta.get('namespace')}/{meta.get('name')}"
        problems.append(f"{where}: {RATE_ANNOTATION}: {error}; using the default")
        return None
