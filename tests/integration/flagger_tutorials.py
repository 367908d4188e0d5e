"""Flagger's tutorials as written (tests/fixtures/flagger_tutorials/): which file holds which
tutorial, the provider Flagger is installed with for it, and the objects it applies, read
unchanged except for the namespace `test` they name, which becomes the test's.

Used by the admission test (tests/integration/test_flagger_tutorials.py) and the releases
(tests/e2e/test_flagger_tutorials.py). Nothing here edits a tutorial's object otherwise.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

FIXTURES: Final = Path(__file__).resolve().parents[1] / "fixtures" / "flagger_tutorials"
TUTORIAL_NAMESPACE: Final = "test"  # the namespace every tutorial works in


@dataclass(frozen=True)
class Tutorial:
    """One tutorial: its fixture file (stem) and Flagger's `meshProvider` for it, which is the
    provider of a Canary that names none (the controller's `--provider`)."""

    name: str
    mesh_provider: str

    @property
    def path(self) -> Path:
        return FIXTURES / f"{self.name}.yaml"

    def documents(self, namespace: str = TUTORIAL_NAMESPACE) -> list[dict[str, Any]]:
        """Every object the tutorial applies, in its order, in `namespace`."""
        loaded = [d for d in yaml.safe_load_all(self.path.read_text()) if d]
        return [in_namespace(d, namespace) for d in loaded]

    def canary(self, namespace: str = TUTORIAL_NAMESPACE) -> dict[str, Any]:
        [canary] = [d for d in self.documents(namespace) if d["kind"] == "Canary"]
        return canary


TUTORIALS: Final = {
    t.name: t
    for t in (
        Tutorial("nginx-progressive-delivery", "nginx"),
        Tutorial("gloo-progressive-delivery", "gloo"),
        Tutorial("contour-progressive-delivery", "contour"),
        Tutorial("traefik-progressive-delivery", "traefik"),
        Tutorial("skipper-progressive-delivery", "skipper"),
        Tutorial("kuma-progressive-delivery", "kuma"),
        Tutorial("apisix-progressive-delivery", "apisix"),
        Tutorial("istio-progressive-delivery", "istio"),
        Tutorial("istio-ab-testing", "istio"),
        Tutorial("linkerd-progressive-delivery", "linkerd"),
        Tutorial("gatewayapi-progressive-delivery", "gatewayapi:v1beta1"),
        Tutorial("kubernetes-blue-green", "kubernetes"),
        Tutorial("keda-scaledobject", "kubernetes"),
        Tutorial("knative-progressive-delivery", "knative"),
    )
}


def nginx_ab_testing(namespace: str = TUTORIAL_NAMESPACE) -> dict[str, Any]:
    """The NGINX tutorial's Canary with its A/B testing section's `analysis` in place of its
    own, as that section tells the user to edit it (nginx-ab-testing.yaml)."""
    canary = TUTORIALS["nginx-progressive-delivery"].canary(namespace)
    edit = yaml.safe_load((FIXTURES / "nginx-ab-testing.yaml").read_text())
    canary["spec"]["analysis"] = edit["analysis"]
    return canary


def in_namespace(document: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """`document` with every `namespace: test` (its own and its references') set to
    `namespace`; other namespaces (istio-system, flagger-system, ...) are left as written."""

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: namespace if k == "namespace" and v == TUTORIAL_NAMESPACE else rewrite(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    rewritten: dict[str, Any] = rewrite(copy.deepcopy(dict(document)))
    return rewritten
