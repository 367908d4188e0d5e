"""Every manifest in `examples/` is accepted by the real API server as written, and the load
tester's Deployment rolls out (the releases themselves run in tests/e2e/test_routing.py)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.api.foreign import PROVIDERS
from canary.kube import resources
from canary.kube.resources import DEPLOYMENT, SERVICE, resource_kind
from tests.integration.crds import install_crds
from tests.integration.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MANIFESTS = sorted(EXAMPLES.rglob("*.yaml"))


def _documents(path: Path, namespace: str) -> list[dict[str, Any]]:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d]
    for document in documents:
        document["metadata"]["namespace"] = namespace
    return documents


def test_every_example_directory_is_covered() -> None:
    names = {path.relative_to(EXAMPLES).parts[0] for path in MANIFESTS}
    assert {
        "podinfo",
        "gatewayapi",
        "bluegreen",
        "ab-testing",
        "loadtester",
        "autoscaler",
        "config-tracking",
        "production",
        "daemonset",
    } <= names


# The providers that have a page of their own (the others are in docs/routing.md itself).
PAGED = ("istio", "nginx", "skipper", "contour", "gloo", "traefik", "apisix", "kuma", "knative")


@pytest.mark.parametrize("provider", PAGED)
def test_every_provider_has_its_page_its_example_and_its_release(provider: str) -> None:
    """Each provider's example is admitted here and released by its e2e test, which reads it."""
    assert provider in PROVIDERS
    repository = EXAMPLES.parent
    assert (repository / "docs" / "providers" / f"{provider}.md").is_file()
    canaries = [
        path
        for path in (EXAMPLES / provider).glob("*.yaml")
        if any(d and d.get("kind") == "Canary" for d in yaml.safe_load_all(path.read_text()))
    ]
    assert canaries, f"examples/{provider} has no Canary"
    released = (repository / "tests" / "e2e" / f"test_provider_{provider}.py").read_text()
    assert '"examples"' in released
    for canary in canaries:  # read by name from examples/<provider>
        assert f'"{canary.name}"' in released or f'{provider}/{canary.name}"' in released, canary


@pytest.mark.parametrize("path", MANIFESTS, ids=[str(p.relative_to(EXAMPLES)) for p in MANIFESTS])
async def test_the_api_server_accepts_the_example(
    api: ApiClient, namespace: str, path: Path
) -> None:
    await install_crds(api)
    for document in _documents(path, namespace):
        applied = await resources.apply(api, document)
        assert applied["metadata"]["name"] == document["metadata"]["name"]
        kind = resource_kind(document["apiVersion"], document["kind"])
        stored = await resources.get(api, kind, document["metadata"]["name"], namespace=namespace)
        assert stored is not None
        assert stored["metadata"]["uid"] == applied["metadata"]["uid"]


async def _available(api: ApiClient, namespace: str) -> int:
    found = await resources.get(api, DEPLOYMENT, "canary-loadtester", namespace=namespace)
    return int(((found or {}).get("status") or {}).get("availableReplicas") or 0)


async def test_the_load_tester_example_rolls_out_behind_its_service(
    api: ApiClient, namespace: str
) -> None:
    for document in _documents(EXAMPLES / "loadtester" / "deployment.yaml", namespace):
        await resources.apply(api, document)
    await eventually(
        partial(_available, api, namespace),
        until=lambda available: available == 2,
        within=60,
        what="2 available load tester replicas",
    )
    service = await resources.get(api, SERVICE, "canary-loadtester", namespace=namespace)
    assert service is not None
    assert service["spec"]["selector"] == {"app": "canary-loadtester"}
