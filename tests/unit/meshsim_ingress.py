"""What the mesh simulator's unit tests of the Ingress providers (nginx, skipper) share.

One namespace with podinfo's three Services (the apex and the primary select the primary's pods,
the canary Service the target's), the primary's and the target's workloads, the example's
Ingress at a simulated rate, the request rates a set of splits plans, and the series the
simulator exports after one second of them. `INGRESS_PROVIDERS` names what differs between
the two, for the tests that are the same for both (`test_meshsim_ingress.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from prometheus_client.parser import text_string_to_metric_families

from canary.sandbox.exporters import nginx, skipper
from canary.sandbox.exporters.registry import PROVIDERS
from canary.sandbox.meshsim import traffic
from canary.sandbox.meshsim_exposition import render
from canary.sandbox.meshsim_model import Simulator, feeds, plan
from canary.sandbox.meshsim_objects import RATE_ANNOTATION, Behaviour, Service, Split, Workload

EXAMPLES: Final = Path(__file__).resolve().parents[2] / "examples"


def services(namespace: str) -> list[Service]:
    """The apex, primary and canary Services of podinfo in `namespace`."""
    return [
        Service(namespace, "podinfo", {"app": "podinfo-primary"}),
        Service(namespace, "podinfo-primary", {"app": "podinfo-primary"}),
        Service(namespace, "podinfo-canary", {"app": "podinfo"}),
    ]


def workload(namespace: str, name: str, behaviour: Behaviour | None = None) -> Workload:
    """One ready Deployment `name` (pods labelled `app: <name>`), healthy unless told."""
    return Workload(
        namespace=namespace,
        name=name,
        template_labels={"app": name},
        ready_replicas=1,
        behaviour=behaviour or Behaviour(error_rate=0.0, latency_ms=20.0),
    )


def workloads(namespace: str, canary: Behaviour | None = None) -> list[Workload]:
    """The primary's workload and the target's (behaving as `canary`)."""
    return [workload(namespace, "podinfo-primary"), workload(namespace, "podinfo", canary)]


def main_ingress(example: Path, namespace: str, rate: str = "40") -> dict[str, Any]:
    """The example's Ingress in `namespace`, `rate` simulated requests a second through it."""
    manifest: dict[str, Any] = yaml.safe_load(example.read_text())
    manifest["metadata"].update(namespace=namespace, annotations={RATE_ANNOTATION: rate})
    return manifest


def rates_of(splits: list[Split], namespace: str) -> dict[str, float]:
    """Requests a second each workload gets from `splits`, by workload name."""
    planned = plan(splits, services(namespace), workloads(namespace))
    return {name: target.rate for (_, name), target in planned.items()}


def exported(splits: list[Split], namespace: str, *, canary: Behaviour) -> dict[str, list[Any]]:
    """The samples the simulator exports after one second of `splits`, by metric family, with
    the target's workload behaving as `canary`."""
    running = workloads(namespace, canary)
    simulator = Simulator()
    simulator.set_plan(
        plan(splits, services(namespace), running),
        existing=[w.key for w in running],
        routes=feeds(splits, services(namespace), running),
    )
    simulator.advance(1.0)
    families = text_string_to_metric_families(render(traffic(simulator), PROVIDERS))
    return {family.name: family.samples for family in families}


@dataclass(frozen=True)
class IngressProvider:
    """What differs between the Ingress providers for the tests they share."""

    name: str
    example: Path  # the provider's example Ingress
    splits_of: Callable[[Sequence[Mapping[str, Any]]], list[Split]]
    ingress_class: str


INGRESS_PROVIDERS: Final = (
    IngressProvider(
        "nginx", EXAMPLES / "nginx" / "ingress.yaml", nginx.splits_of_ingresses, nginx.CLASS
    ),
    IngressProvider(
        "skipper", EXAMPLES / "skipper" / "ingress.yaml", skipper.splits_of_ingresses, skipper.CLASS
    ),
)
