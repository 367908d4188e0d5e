"""CustomResourceDefinitions the sandbox installs: the mesh simulator's SMI TrafficSplit and the
HTTPRouteGroup of A/B splits (committed here), and the upstream CRD files of the sandbox's
components (Gateway API's standard channel, KEDA's, Istio's, Contour's), copied out of their
pinned Go modules by the build. A file may hold several CRDs (Istio and Contour ship all of
theirs in one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MANIFESTS = Path(__file__).parent / "manifests"
TRAFFIC_SPLIT_CRD = MANIFESTS / "trafficsplit-crd.yaml"
HTTP_ROUTE_GROUP_CRD = MANIFESTS / "httproutegroup-crd.yaml"
GLOO_CRDS = MANIFESTS / "gloo-crds.yaml"  # RouteTable and Upstream (no pinned source reachable)
CRD_KIND = "CustomResourceDefinition"


def load(path: Path) -> dict[str, Any]:
    """The one manifest of a single-document file."""
    # libyaml's loader when present: Gateway API's CRDs are over 800 kB of YAML.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    manifest: dict[str, Any] = yaml.load(path.read_text(), Loader=loader)  # noqa: S506
    return manifest


def load_all(path: Path) -> list[dict[str, Any]]:
    """Every CRD of a file that holds one or several (Contour ships its CRDs in one file)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    documents = yaml.load_all(path.read_text(), Loader=loader)
    return [d for d in documents if isinstance(d, dict) and d.get("kind") == CRD_KIND]
