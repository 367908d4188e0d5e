"""DaemonSet targets as the real API server and its DaemonSet controller handle them.

The sandbox's fake nodes (kwok) run a DaemonSet's pods: the primary DaemonSet built from the
target runs one ready pod per node; parking the target (its node selector matches no node)
leaves it with no pod, which the readiness judgement and `Workload.parked` see; starting it
again brings a pod back to every node. The revision of the target's template is the same
parked or not, as stored by the API server.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient

from canary.core.revision import revision
from canary.kube import resources
from canary.kube.resources import DAEMON_SET, CanaryRef, resource_kind
from canary.targets.apply import apply_primary, read_target, scale_target
from canary.targets.daemonset import SCALE_TO_ZERO_KEY
from canary.targets.workload import DAEMON_SET_WORKLOAD
from tests.e2e.harness import REPOSITORY
from tests.integration.waiting import eventually

NODES = resource_kind("v1", "Node")
WORKLOAD = DAEMON_SET_WORKLOAD


async def _node_count(api: ApiClient) -> int:
    nodes = await resources.list_objects(api, NODES, namespace=None) or []
    return len(nodes)


def _example(namespace: str) -> list[dict[str, Any]]:
    path = REPOSITORY / "examples" / "daemonset" / "daemonset.yaml"
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for document in documents:
        document["metadata"]["namespace"] = namespace
    return documents


async def _read(api: ApiClient, name: str, namespace: str) -> dict[str, Any] | None:
    return await read_target(api, WORKLOAD, name, namespace=namespace)


def _ready_on(count: int) -> Callable[[dict[str, Any] | None], bool]:
    def check(daemonset: dict[str, Any] | None) -> bool:
        now = datetime.now(UTC)
        readiness = WORKLOAD.readiness(daemonset, progress_deadline_seconds=60, now=now)
        status = (daemonset or {}).get("status") or {}
        return readiness.ready and status.get("numberReady") == count

    return check


async def test_the_primary_runs_on_every_node_and_the_target_parks_and_starts(
    api: ApiClient, namespace: str, owner: CanaryRef
) -> None:
    nodes = await _node_count(api)
    assert nodes > 0, "the sandbox has no node to run a DaemonSet's pods on"
    for document in _example(namespace):
        await resources.apply(api, document)
    target = await eventually(
        lambda: _read(api, "podinfo-agent", namespace),
        until=_ready_on(nodes),
        what="the target DaemonSet on every node",
    )
    assert target is not None
    template = WORKLOAD.template(target)
    assert template is not None
    primary = WORKLOAD.primary(target, template=template, owner=owner, revision="rev-1")
    await apply_primary(api, WORKLOAD, primary)
    stored_primary = await eventually(
        lambda: _read(api, "podinfo-agent-primary", namespace),
        until=_ready_on(nodes),
        what="the primary DaemonSet on every node",
    )
    assert stored_primary is not None
    assert stored_primary["spec"]["selector"] == {"matchLabels": {"app": "podinfo-agent-primary"}}
    assert stored_primary["metadata"]["ownerReferences"][0]["uid"] == owner.uid

    await scale_target(api, WORKLOAD, target, replicas=0)
    parked = await eventually(
        lambda: _read(api, "podinfo-agent", namespace),
        until=lambda d: (
            d is not None
            and (d.get("status") or {}).get("observedGeneration") == d["metadata"]["generation"]
            and not (d.get("status") or {}).get("currentNumberScheduled")
        ),
        what="the target parked: no pod on any node",
    )
    assert parked is not None
    assert parked["spec"]["template"]["spec"]["nodeSelector"] == {SCALE_TO_ZERO_KEY: "true"}
    assert WORKLOAD.parked(parked)
    parked_template = WORKLOAD.template(parked)
    assert parked_template is not None
    assert revision(parked_template) == revision(template)
    await scale_target(api, WORKLOAD, parked, replicas=0)  # parked already: nothing written
    unchanged = await _read(api, "podinfo-agent", namespace)
    assert unchanged is not None
    assert unchanged["metadata"]["generation"] == parked["metadata"]["generation"]

    await scale_target(api, WORKLOAD, parked, replicas=1)
    started = await eventually(
        lambda: _read(api, "podinfo-agent", namespace),
        until=_ready_on(nodes),
        what="the target back on every node",
    )
    assert started is not None
    assert not WORKLOAD.parked(started)
    assert "nodeSelector" not in started["spec"]["template"]["spec"]
    started_template = WORKLOAD.template(started)
    assert started_template is not None
    assert revision(started_template) == revision(template)
    assert await resources.get(api, DAEMON_SET, "absent", namespace=namespace) is None
