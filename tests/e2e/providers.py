"""The steps the provider end-to-end tests (`test_provider_*.py`) share.

Each of those tests applies a provider's example from `examples/` in its namespace with shorter
intervals, waits until the Canary is initialized, sets the simulated request rate on the route
object, releases a new version and reads the outcome, the checks and the primary. Those steps
are here; what is each provider's own (which example files, how its route object's weights
read, what it asserts) stays in its file.

Every wait polls with a deadline (the harness' `Recorder`, `tests.integration.waiting`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.resources import ResourceKind
from canary.sandbox.state import SandboxState
from tests.e2e.harness import (
    RATE_ANNOTATION,
    TEST_MANAGER,
    CanaryView,
    Recorder,
    apply,
    get_canary,
    get_deployment,
    image_of,
    set_template,
)
from tests.integration.waiting import eventually

RELEASED_TAG: Final = "6.7.1"  # the new version every provider test releases (6.7.0 runs first)


def example_documents(path: Path, namespace: str) -> list[dict[str, Any]]:
    """Every document of the YAML file `path`, moved into `namespace`."""
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for document in documents:
        document["metadata"]["namespace"] = namespace
    return documents


def example(path: Path, namespace: str) -> dict[str, Any]:
    """The one document of the YAML file `path`, moved into `namespace`."""
    [document] = example_documents(path, namespace)
    assert isinstance(document, dict)
    return document


def shortened(
    canary: dict[str, Any], *, metric_interval: str | None = None, **analysis: Any
) -> dict[str, Any]:
    """`canary` with a 2 s analysis interval and the `analysis` changes, and, with
    `metric_interval`, every metric's window that long; changed in place and returned."""
    spec = canary["spec"]["analysis"]
    spec.update({"interval": "2s", **analysis})
    if metric_interval is not None:
        for metric in spec["metrics"]:
            metric["interval"] = metric_interval
    return canary


async def initialized(
    api: ApiClient, recorder: Recorder, *manifests: Mapping[str, Any], within: float = 30.0
) -> list[dict[str, Any]]:
    """Apply `manifests` in order (the route object, the target, the Canary) and wait until the
    recorded Canary is Initialized; each object as the API server returned it."""
    applied = [await apply(api, manifest) for manifest in manifests]
    await recorder.until_phase("Initialized", within=within)
    return applied


async def set_rate(
    api: ApiClient, route: ResourceKind, name: str, *, namespace: str, rate: str = "100"
) -> None:
    """`rate` simulated requests a second through the route object `name`: an annotation the
    controller does not own, so it stays (100 gives steady ratios at a 10 % step)."""
    await resources.merge_patch(
        api,
        route,
        name,
        namespace=namespace,
        patch={"metadata": {"annotations": {RATE_ANNOTATION: rate}}},
        field_manager=TEST_MANAGER,
    )


async def release(
    api: ApiClient,
    recorder: Recorder,
    *,
    within: float,
    annotations: Mapping[str, str] | None = None,
) -> CanaryView:
    """Release `RELEASED_TAG` of the recorder's Deployment (with `annotations` on its pod
    template) and wait for the run's outcome."""
    released = time.monotonic()
    await set_template(
        api,
        recorder.name,
        namespace=recorder.namespace,
        tag=RELEASED_TAG,
        annotations=annotations,
    )
    return await recorder.outcome(since=released, within=within)


async def back_on_primary(
    recorder: Recorder, *, within: float = 10.0, what: str = "all traffic to the primary"
) -> None:
    """Until the recorded route object sends everything to the primary again."""
    await recorder.wait(lambda: recorder.weights.last == (100, 0), within=within, what=what)


def checks_of(status: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The latest result of each metric check in a Canary's `status`, by metric name."""
    return {check["name"]: check for check in status.get("checks") or []}


async def canary_checks(api: ApiClient, name: str, *, namespace: str) -> dict[str, dict[str, Any]]:
    """`checks_of` the Canary `name` as it is now."""
    return checks_of((await get_canary(api, name, namespace=namespace)).get("status") or {})


async def primary_image(api: ApiClient, name: str, *, namespace: str) -> str:
    """The image the primary Deployment of the target `name` runs."""
    return image_of(await get_deployment(api, f"{name}-primary", namespace=namespace))


async def until_gone(
    api: ApiClient, kind: ResourceKind, name: str, *, namespace: str | None, within: float = 30.0
) -> None:
    """Until the object `name` of `kind` does not exist."""
    await eventually(
        lambda: resources.get(api, kind, name, namespace=namespace),
        until=lambda found: found is None,
        within=within,
        what=f"{kind.kind} {name} gone",
    )


async def prometheus_peak(sandbox: SandboxState, selector: str) -> float:
    """The highest value Prometheus held in the last 15 minutes for the series `selector`, summed
    (0 with none). A range, not the instant value: once a release ends its canary is scaled to
    zero, the simulator stops exporting it, and Prometheus marks the series stale at once."""
    query = f"sum(max_over_time({selector}[15m]))"
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sandbox.prometheus_url}/api/v1/query", params={"query": query}) as answer,
    ):
        result = (await answer.json())["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0
