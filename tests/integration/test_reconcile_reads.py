"""Where a reconcile cycle reads the Canary, and what guards a stale copy (docs/architecture.md,
"One reconcile cycle"), against the sandbox's API server.

Once the watch cache covers the namespace, a cycle reads the Canary from it and sends no GET
for it. A cached copy that is behind the API server is safe because the status write carries
the copy's resourceVersion: the API server answers 409. When the status itself moved since the
copy, nothing is written, the cycle ends as a conflict and asks to run again at once; the next
cycle, on the fresh copy, writes, and the object its write returned is in the cache. When only
the metadata or spec moved, the status the cycle computed (which records what it did) is written
on the fresh copy at once (`canary.controller.statuswrite`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient
from prometheus_client import REGISTRY

from canary.api.crd import all_crds
from canary.controller.reconcile import CANARIES, Reconciler
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.resources import DEPLOYMENT
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


async def _cached_example(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> tuple[Reconciler, dict[str, Any]]:
    """A Reconciler whose cache holds the example Canary as just applied (as the watch's list
    would), and that copy."""
    await install_crds(api, all_crds().values())
    await _apply_example(api, "deployment.yaml", namespace)
    cached = await _apply_example(api, "canary.yaml", namespace)
    reconciler = Reconciler(api, sandbox_settings(sandbox))
    reconciler.cache.replace("canaries", namespace, (cached,))
    return reconciler, cached


async def test_a_cycle_reads_the_cache_and_a_copy_behind_on_the_status_writes_nothing(
    api: ApiClient, namespace: str, sandbox: SandboxState
) -> None:
    reconciler, cached = await _cached_example(api, namespace, sandbox)
    # Another writer records a status after the cache was filled; the watch has not brought it.
    elsewhere = {"observedGeneration": 0, "failedChecks": 0}
    await resources.replace_status(api, CANARIES, {**cached, "status": elsewhere})
    gets, conflicts = _canary_gets(), _count("canary_reconcile_total", {"result": "conflict"})

    delay = await reconciler.cycle((namespace, "podinfo"))

    # Read from the cache, not from the API server; the 409 then refreshes the cache with one
    # GET (the watch may never bring a newer copy when the stale one came from our own write).
    assert _canary_gets() == gets + 1
    refreshed = reconciler.cache.get("canaries", namespace, "podinfo")
    assert refreshed is not None
    assert refreshed["status"] == elsewhere
    assert delay < 1.0  # runs again shortly
    assert _count("canary_reconcile_total", {"result": "conflict"}) == conflicts + 1
    stored = await resources.get(api, CANARIES, "podinfo", namespace=namespace)
    assert stored is not None
    assert stored.get("status") == elsewhere  # the 409 wrote nothing computed from the old copy

    await reconciler.cycle((namespace, "podinfo"))
    reconciler.prometheus.close()

    stored = await resources.get(api, CANARIES, "podinfo", namespace=namespace)
    assert stored is not None
    assert stored["status"]["phase"]
    own = reconciler.cache.get("canaries", namespace, "podinfo")
    assert own is not None
    assert own["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    assert reconciler.is_own_write((namespace, "podinfo"), stored["metadata"]["resourceVersion"])


@pytest.mark.parametrize(
    "edit",
    [
        {"metadata": {"labels": {"edited": "after-the-copy"}}},
        {"metadata": {"annotations": {"canary.dev/paused": "true"}}},
        {"spec": {"suspend": True}},
    ],
    ids=["label", "pause", "suspend"],
)
async def test_a_copy_behind_on_metadata_or_spec_still_records_what_its_cycle_did(
    api: ApiClient, namespace: str, sandbox: SandboxState, edit: dict[str, Any]
) -> None:
    reconciler, cached = await _cached_example(api, namespace, sandbox)
    # Edited after the cache was filled; the watch has not brought it.
    edited = await resources.merge_patch(api, CANARIES, "podinfo", namespace=namespace, patch=edit)
    gets, conflicts = _canary_gets(), _count("canary_reconcile_total", {"result": "conflict"})

    await reconciler.cycle((namespace, "podinfo"))
    reconciler.prometheus.close()

    # The cycle acted on the copy (it initialized the Canary: the primary exists) and its
    # status is written on the API server's copy, read once after the 409, keeping the edit.
    assert _canary_gets() == gets + 1
    assert _count("canary_reconcile_total", {"result": "conflict"}) == conflicts
    primary = await resources.get(api, DEPLOYMENT, "podinfo-primary", namespace=namespace)
    assert primary is not None
    stored = await resources.get(api, CANARIES, "podinfo", namespace=namespace)
    assert stored is not None
    assert stored["status"]["phase"] in {"Initializing", "Initialized"}
    for part in ("labels", "annotations"):
        assert stored["metadata"].get(part) == edited["metadata"].get(part)
    assert stored["spec"] == edited["spec"]
    # The generation the cycle acted on: a spec edit is observed by the next cycle.
    assert stored["status"]["observedGeneration"] == cached["metadata"]["generation"]
    own = reconciler.cache.get("canaries", namespace, "podinfo")
    assert own is not None
    assert own["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
