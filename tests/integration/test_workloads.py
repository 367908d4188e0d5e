"""The sandbox runs workloads for real: scheduling, readiness on fake nodes, garbage collection."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio.client import (
    ApiClient,
    AppsV1Api,
    CoreV1Api,
    V1DeleteOptions,
    V1Deployment,
)

from canary.kube.objects import body
from canary.sandbox.nodes import node_names
from tests.integration.waiting import eventually

LABELS = {"app": "web"}


def _deployment(replicas: int) -> V1Deployment:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": LABELS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {"containers": [{"name": "web", "image": "example.test/web:1"}]},
            },
        },
    }
    return body(manifest, V1Deployment)


def _ready(pod: Any) -> bool:
    return pod.status.phase == "Running" and any(
        c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []
    )


async def test_deployment_gets_a_replicaset_and_ready_pods_on_fake_nodes(
    api: ApiClient, namespace: str
) -> None:
    apps, core = AppsV1Api(api), CoreV1Api(api)
    await apps.create_namespaced_deployment(namespace, _deployment(3))

    deployment = await eventually(
        lambda: apps.read_namespaced_deployment("web", namespace),
        until=lambda d: d.status.available_replicas == 3,
        what="3 available replicas",
    )
    assert deployment.status.ready_replicas == 3

    replica_sets = (await apps.list_namespaced_replica_set(namespace)).items
    assert len(replica_sets) == 1
    owner = replica_sets[0].metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid) == ("Deployment", "web", deployment.metadata.uid)

    pods = (await core.list_namespaced_pod(namespace, label_selector="app=web")).items
    assert len(pods) == 3
    assert all(_ready(pod) for pod in pods)
    assert {pod.spec.node_name for pod in pods} <= set(node_names())
    assert all(pod.status.pod_ip for pod in pods)


async def test_deleting_a_deployment_garbage_collects_its_replicaset_and_pods(
    api: ApiClient, namespace: str
) -> None:
    apps, core = AppsV1Api(api), CoreV1Api(api)
    await apps.create_namespaced_deployment(namespace, _deployment(2))
    await eventually(
        lambda: core.list_namespaced_pod(namespace, label_selector="app=web"),
        until=lambda pods: len(pods.items) == 2 and all(_ready(p) for p in pods.items),
        what="2 ready pods",
    )

    await apps.delete_namespaced_deployment(
        "web", namespace, body=V1DeleteOptions(propagation_policy="Background")
    )

    await eventually(
        lambda: apps.list_namespaced_replica_set(namespace),
        until=lambda sets: not sets.items,
        what="ReplicaSet garbage-collected",
    )
    await eventually(
        lambda: core.list_namespaced_pod(namespace),
        until=lambda pods: not pods.items,
        what="pods garbage-collected",
    )


async def test_nodes_are_ready_untainted_fakes(api: ApiClient) -> None:
    nodes = (await CoreV1Api(api).list_node()).items
    names = {node.metadata.name for node in nodes}
    assert set(node_names()) <= names
    assert len(names) >= 2
    for node in nodes:
        assert not node.spec.taints, node.metadata.name
        assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
