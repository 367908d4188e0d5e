"""A DaemonSet target through the controller's seams: what a cycle observes (parking is never a
new revision and a parked target is not a ready canary), the claims, and the revert patch."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from canary.api.canary import Canary
from canary.controller.claims import claimant
from canary.controller.deletion import revert_spec
from canary.controller.observe import World, observe
from canary.kube.resources import DAEMON_SET, CanaryRef, ResourceKind
from canary.routers.base import RouteRef
from canary.targets.daemonset import SCALE_TO_ZERO_KEY
from canary.targets.revert import revert_patch
from canary.targets.workload import DAEMON_SET_WORKLOAD

NOW = datetime(2030, 1, 1, tzinfo=UTC)
ROUTE = RouteRef(namespace="shop", apex="agent", owner=None)
OWNER = CanaryRef(name="agent", namespace="shop", uid="u1")
CANARY: dict[str, Any] = {
    "apiVersion": "canary.dev/v1alpha1",
    "kind": "Canary",
    "metadata": {"name": "agent", "namespace": "shop", "uid": "u1", "generation": 1},
    "spec": {
        "provider": "kubernetes",
        "targetRef": {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent"},
        "service": {"port": 9898},
        "analysis": {"interval": "10s", "threshold": 2, "iterations": 3},
    },
}


class Route:
    async def get_weights(self, route: RouteRef) -> tuple[int, int] | None:
        assert route == ROUTE
        return (100, 0)


def daemonset(name: str, *, parked: bool = False, image: str = "agent:1") -> dict[str, Any]:
    node_selector = {SCALE_TO_ZERO_KEY: "true"} if parked else {}
    pods = 0 if parked else 3
    label = "agent-primary" if name.endswith("-primary") else "agent"
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "shop", "generation": 2},
        "spec": {
            "selector": {"matchLabels": {"app": label}},
            "template": {
                "metadata": {"labels": {"app": label}},
                "spec": {
                    **({"nodeSelector": node_selector} if node_selector else {}),
                    "containers": [{"name": "agent", "image": image}],
                },
            },
        },
        "status": {
            "observedGeneration": 2,
            "desiredNumberScheduled": pods,
            "updatedNumberScheduled": pods,
            "numberAvailable": pods,
        },
    }


async def _observe(target: dict[str, Any]) -> World:
    objects = {"agent": target, "agent-primary": daemonset("agent-primary")}

    async def read(namespace: str, name: str) -> dict[str, Any] | None:
        assert namespace == "shop"
        return copy.deepcopy(objects.get(name))

    async def read_object(kind: ResourceKind, namespace: str, name: str) -> dict[str, Any] | None:
        assert namespace == "shop"
        assert kind is DAEMON_SET or kind.kind in {"ConfigMap", "Secret"}, kind
        return copy.deepcopy(objects.get(name)) if kind is DAEMON_SET else None

    return await observe(
        read,
        Canary.model_validate(CANARY),
        router=Route(),  # type: ignore[arg-type]
        route=ROUTE,
        now=NOW,
        read_object=read_object,
    )


async def test_parking_a_daemonset_is_not_a_new_revision() -> None:
    parked = await _observe(daemonset("agent", parked=True))
    running = await _observe(daemonset("agent"))
    assert parked.observation.target_revision == running.observation.target_revision
    assert parked.observation.target_revision


async def test_a_parked_daemonset_is_no_ready_canary() -> None:
    parked = await _observe(daemonset("agent", parked=True))
    assert not parked.observation.canary.ready
    assert parked.observation.canary.message == "scaled to zero"
    running = await _observe(daemonset("agent"))
    assert running.observation.canary.ready
    assert running.observation.primary.ready


def test_a_daemonset_canary_claims_its_daemonsets() -> None:
    claims = {(c.kind, c.name) for c in claimant(CANARY, default_provider="kubernetes").claims}
    assert ("DaemonSet", "agent") in claims
    assert ("DaemonSet", "agent-primary") in claims
    assert not any(kind == "Deployment" for kind, _ in claims)


def test_revert_spec_names_the_kind() -> None:
    spec = revert_spec(CANARY, default_provider="kubernetes")
    assert spec is not None
    assert spec.target_kind == "DaemonSet"


def test_revert_unparks_a_daemonset_without_restoring_the_same_template() -> None:
    target = daemonset("agent", parked=True)
    primary = DAEMON_SET_WORKLOAD.primary(
        daemonset("agent"),
        template=daemonset("agent")["spec"]["template"],
        owner=OWNER,
        revision="r1",
    )
    change = revert_patch(target, primary=primary, replicated=False)
    assert change is not None
    assert change.unparked
    assert change.replicas is None
    assert change.restored_revision == ""
    assert change.patch["spec"] == {
        "template": {"spec": {"nodeSelector": {SCALE_TO_ZERO_KEY: None}}}
    }
    assert revert_patch(daemonset("agent"), primary=primary, replicated=False) is None


def test_revert_restores_the_primarys_template_into_a_parked_daemonset() -> None:
    target = daemonset("agent", parked=True, image="agent:2")
    primary = DAEMON_SET_WORKLOAD.primary(
        daemonset("agent"),
        template=daemonset("agent")["spec"]["template"],
        owner=OWNER,
        revision="r1",
    )
    change = revert_patch(target, primary=primary, replicated=False)
    assert change is not None
    assert change.restored_revision == "r1"
    template = change.patch["spec"]["template"]
    assert template["spec"]["nodeSelector"] is None  # held only the parking key
    assert template["spec"]["containers"][0]["image"] == "agent:1"
    assert "replicas" not in change.patch["spec"]
