"""CustomResourceDefinitions the sandbox installs: the mesh simulator's SMI TrafficSplit and the
HTTPRouteGroup of A/B splits (committed here), and Gateway API's standard channel (copied out of
the pinned Go module by the build)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFESTS = Path(__file__).parent / "manifests"
TRAFFIC_SPLIT_CRD = MANIFESTS / "trafficsplit-crd.yaml"
HTTP_ROUTE_GROUP_CRD = MANIFESTS / "httproutegroup-crd.yaml"


def load(path: Path) -> dict[str, Any]:
    # libyaml's loader when present: Gateway API's CRDs are over 800 kB of YAML.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    manifest: dict[str, Any] = yaml.load(path.read_text(), Loader=loader)  # noqa: S506
    return manifest
