"""The sandbox's fake nodes (played by kwok) and the checks that the cluster can run workloads."""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio.client import ApiClient, CoreV1Api, V1Node
from kubernetes_asyncio.client.exceptions import ApiException

from canary.kube.objects import body

NODE_COUNT = 3
KWOK_ANNOTATION = "kwok.x-k8s.io/node"


def node_names(count: int = NODE_COUNT) -> list[str]:
    return [f"sandbox-node-{index}" for index in range(1, count + 1)]


def fake_node(name: str) -> dict[str, Any]:
    """A Node with room for plenty of pods, labelled like a real Linux node, and untainted."""
    capacity = {"cpu": "32", "memory": "128Gi", "pods": "250"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_ANNOTATION: "fake"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
            },
        },
        "status": {"capacity": capacity, "allocatable": capacity},
    }


async def create_nodes(client: ApiClient, names: list[str]) -> None:
    core = CoreV1Api(client)
    for name in names:
        try:
            await core.create_node(body(fake_node(name), V1Node))
        except ApiException as error:
            if error.status != 409:  # already there: `up` after a partial start
                raise


async def nodes_ready(client: ApiClient, names: list[str]) -> bool:
    """True when every named node is Ready and carries no taint (so anything can schedule)."""
    nodes = await CoreV1Api(client).list_node()
    ready = {
        node.metadata.name
        for node in nodes.items
        if not node.spec.taints
        and any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    }
    return set(names) <= ready


async def default_service_account_exists(client: ApiClient) -> bool:
    try:
        await CoreV1Api(client).read_namespaced_service_account("default", "default")
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return True
