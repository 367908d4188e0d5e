"""What the controller's cache leaves out of an object is not lost on the API server.

The cache keeps no `managedFields` (canary.controller.cache), and a Canary's status is written
with a PUT of the object as the cache holds it. The API server keeps its record of who owns
which field when a PUT carries none: a team's GitOps tool that applied the Canary still owns
its fields after the controller's status writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient

from canary.api.crd import all_crds
from canary.controller.cache import ObjectCache
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.resources import CANARY

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "podinfo" / "canary.yaml"
TEAM = "team-gitops"


def _owners(obj: dict[str, Any]) -> dict[str, str]:
    return {e["manager"]: e["operation"] for e in obj["metadata"].get("managedFields") or []}


async def _live(api: ApiClient, namespace: str) -> dict[str, Any]:
    found = await resources.get(api, CANARY, "podinfo", namespace=namespace)
    assert found is not None
    return found


async def test_a_status_put_from_the_cache_keeps_the_servers_field_owners(
    api: ApiClient, namespace: str
) -> None:
    await install_crds(api, all_crds().values())
    manifest = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"]["namespace"] = namespace
    await resources.apply(api, manifest, field_manager=TEAM)
    before = _owners(await _live(api, namespace))
    assert before == {TEAM: "Apply"}

    cache = ObjectCache()
    cache.put("canaries", await _live(api, namespace))
    cached = cache.get("canaries", namespace, "podinfo")
    assert cached is not None
    assert "managedFields" not in cached["metadata"]
    status = {"phase": "Initializing", "canaryWeight": 0, "failedChecks": 0, "iterations": 0}
    await resources.replace_status(api, CANARY, {**cached, "status": status})

    after = await _live(api, namespace)
    assert after["status"]["phase"] == "Initializing"
    assert _owners(after)[TEAM] == "Apply", after["metadata"]["managedFields"]
    assert len(_owners(after)) == 2, "the status writer was added, nobody removed"
