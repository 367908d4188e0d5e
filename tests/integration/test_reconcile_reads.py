"""Where a reconcile cycle reads the Canary, and what guards a stale copy (docs/architecture.md,
"One reconcile cycle"), against the sandbox's API server.

Once the watch cache covers the namespace, a cycle reads the Canary from it and sends no GET
for it. A cached copy that is behind the API server is safe because the status write carries
the copy's resourceVersion: the API server answers 409, nothing is written, the cycle ends as a
conflict and asks to run again at once. The next cycle, on the copy the watch brought, writes,
and the object its write returned is in the cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio.client import ApiClient
from prometheus_client import REGISTRY

from canary.api.crd import all_crds
from canary.controller.reconcile import CANARIES, Reconciler
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.sandbox.state import SandboxState
from tests.integration.controller_settings import sandbox_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "podinfo"


async def _apply_example(api: ApiClient, name: str, namespace: str) -> dict[str, Any]:
    manifest = yaml.safe_load((EXAMPLES / name).read_text())
    manifest["metadata"]["namespace"] = namespace
    return await resources.apply(api, manifest)


def _count(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _canary_gets() -> float:
    labels = {"verb": "GET", "resource": "canaries", "code": "200"}
    return _count("canary_api_requests_total", labels)


async def test_a_cycle_reads_the_cache_and_a_stale_copy_writes_nothing(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    await install_crds(api, all_crds().values())
    await _apply_example(api, "deployment.yaml", namespace)
    cached = await _apply_example(api, "canary.yaml", namespace)
    reconciler = Reconciler(api, sandbox_settings(sandbox))
    reconciler.cache.replace("canaries", namespace, (cached,))  # as the watch's list would
    # The Canary changes after the cache was filled, and the watch has not brought it yet.
    await resources.merge_patch(
        api,
        CANARIES,
        "podinfo",
        namespace=namespace,
        patch={"metadata": {"labels": {"edited": "after-the-copy"}}},
    )
    gets, conflicts = _canary_gets(), _count("canary_reconcile_total", {"result": "conflict"})

    delay = await reconciler.cycle((namespace, "podinfo"))

    # Read from the cache, not from the API server; the 409 then refreshes the cache with one
    # GET (the watch may never bring a newer copy when the stale one came from our own write).
    assert _canary_gets() == gets + 1
    refreshed = reconciler.cache.get("canaries", namespace, "podinfo")
    assert refreshed is not None
    assert refreshed["metadata"]["labels"] == {"edited": "after-the-copy"}
    assert delay < 1.0  # runs again shortly
    assert _count("canary_reconcile_total", {"result": "conflict"}) == conflicts + 1
    stored = await resources.get(api, CANARIES, "podinfo", namespace=namespace)
    assert stored is not None
    assert stored.get("status") == {"observedGeneration": 0}  # the 409 wrote nothing (CRD default)

    await reconciler.cycle((namespace, "podinfo"))
    reconciler.prometheus.close()

    stored = await resources.get(api, CANARIES, "podinfo", namespace=namespace)
    assert stored is not None
    assert stored["status"]["phase"]
    assert stored["metadata"]["labels"] == {"edited": "after-the-copy"}
    own = reconciler.cache.get("canaries", namespace, "podinfo")
    assert own is not None
    assert own["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert reconciler.is_own_write((namespace, "podinfo"), stored["metadata"]["resourceVersion"])
