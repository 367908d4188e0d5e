"""The sandbox's fake nodes (played by kwok) and the checks that the cluster can run workloads."""

from __future__ import annotations

from typing import Any

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import resource_kind

NODE = resource_kind("v1", "Node")
SERVICE_ACCOUNT = resource_kind("v1", "ServiceAccount")

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
    """Apply the fake nodes (absolute: `up` after a partial start finds them there already)."""
    for name in names:
        await resources.apply(client, fake_node(name))


async def nodes_ready(client: ApiClient, names: list[str]) -> bool:
    """True when every named node is Ready and carries no taint (so anything can schedule)."""
    ready = {
        node["metadata"]["name"]
        for node in await resources.list_objects(client, NODE) or []
        if not (node.get("spec") or {}).get("taints")
        and any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (node.get("status") or {}).get("conditions") or []
        )
    }
    return set(names) <= ready


async def default_service_account_exists(client: ApiClient) -> bool:
    account = await resources.get(client, SERVICE_ACCOUNT, "default", namespace="default")
    return account is not None
