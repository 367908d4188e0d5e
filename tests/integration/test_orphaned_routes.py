"""A cluster-scoped route object is taken over only when the Canary holding it is surely gone.

`OrphanedRoutes.take_over` runs against the sandbox's API server with Kuma's TrafficRoute CRD.
Its cache is empty, as a controller's is for a namespace it does not watch (`--namespaces`) or a
Canary of another shard (`--watch-label-selector`): a holder that exists there must keep its
route. A holder whose Canary (or namespace) is gone loses it; a route nobody holds is never
taken; a route that changed since it was read is not deleted (delete preconditions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_asyncio.client import ApiClient

from canary.api.crd import all_crds
from canary.controller.cache import ObjectCache
from canary.controller.orphans import OrphanedRoutes
from canary.kube import resources
from canary.kube.crds import install_crds
from canary.kube.errors import Conflict
from canary.kube.resources import CANARY, TRAFFIC_ROUTE, CanaryRef
from canary.routers.base import HOLDER_ANNOTATION, RouteRef

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "kuma" / "canary.yaml"


def _canary(namespace: str, name: str) -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    manifest["metadata"].update(namespace=namespace, name=name)
    return manifest


def _route(name: str, holder: str | None) -> dict[str, Any]:
    annotations = {HOLDER_ANNOTATION: holder} if holder is not None else {}
    return {
        "apiVersion": TRAFFIC_ROUTE.api_version,
        "kind": TRAFFIC_ROUTE.kind,
        "mesh": "default",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "sources": [{"match": {"kuma.io/service": "*"}}],
            "destinations": [{"match": {"kuma.io/service": f"{name}_gone_svc_80"}}],
            "conf": {"split": [{"weight": 100, "destination": {"kuma.io/service": "x"}}]},
        },
    }


@pytest.fixture
async def taker(api: ApiClient, namespace: str) -> dict[str, Any]:
    """The Canary that finds its route held by another: `taker` of the test's namespace."""
    await install_crds(api, all_crds().values())
    return await resources.apply(api, _canary(namespace, "taker"))


async def _taken(
    api: ApiClient, taker: dict[str, Any], holder: str | None, *, cache: ObjectCache | None = None
) -> tuple[bool, dict[str, Any] | None]:
    """A TrafficRoute named after the test's namespace, held by `holder`, offered to `taker`:
    whether it was taken, and the route afterwards (None: deleted)."""
    metadata = taker["metadata"]
    apex = metadata["namespace"]  # cluster-scoped: a name no other test uses
    await resources.apply(api, _route(apex, holder))
    route = RouteRef(
        namespace=metadata["namespace"],
        apex=apex,
        owner=CanaryRef(
            name=metadata["name"], namespace=metadata["namespace"], uid=metadata["uid"]
        ),
    )
    orphans = OrphanedRoutes(api, cache=cache or ObjectCache(), default_provider="kuma")
    try:
        taken = await orphans.take_over(taker, route=route, provider="kuma")
        return taken, await resources.get(api, TRAFFIC_ROUTE, apex, namespace=None)
    finally:
        await resources.delete(api, TRAFFIC_ROUTE, apex, namespace=None)


async def test_a_route_whose_holder_exists_unseen_by_the_cache_is_kept(
    api: ApiClient, namespace: str, taker: dict[str, Any]
) -> None:
    await resources.apply(api, _canary(namespace, "holder"))
    taken, route = await _taken(api, taker, f"{namespace}/holder")
    assert not taken
    assert route is not None


async def test_a_route_whose_holder_the_cache_holds_is_kept(
    api: ApiClient, namespace: str, taker: dict[str, Any]
) -> None:
    cache = ObjectCache()
    cache.put(CANARY.plural, _canary(namespace, "holder"))  # not in the API server: cache only
    taken, route = await _taken(api, taker, f"{namespace}/holder", cache=cache)
    assert not taken
    assert route is not None


@pytest.mark.parametrize("holder", ["{namespace}/deleted", "no-such-namespace/podinfo"])
async def test_a_route_whose_holder_is_gone_is_deleted_for_the_taker(
    api: ApiClient, namespace: str, taker: dict[str, Any], holder: str
) -> None:
    taken, route = await _taken(api, taker, holder.format(namespace=namespace))
    assert taken
    assert route is None


@pytest.mark.parametrize("holder", [None, "not-a-canary"])
async def test_a_route_no_canary_holds_is_never_taken(
    api: ApiClient, taker: dict[str, Any], holder: str | None
) -> None:
    taken, route = await _taken(api, taker, holder)
    assert not taken
    assert route is not None


async def test_a_delete_with_an_old_resource_version_deletes_nothing(
    api: ApiClient, namespace: str
) -> None:
    name = f"{namespace}-rv"
    first = await resources.apply(api, _route(name, "somewhere/gone"))
    await resources.apply(api, _route(name, f"{namespace}/taker"))
    try:
        with pytest.raises(Conflict):
            await resources.delete(
                api,
                TRAFFIC_ROUTE,
                name,
                namespace=None,
                resource_version=first["metadata"]["resourceVersion"],
            )
        assert await resources.get(api, TRAFFIC_ROUTE, name, namespace=None) is not None
    finally:
        await resources.delete(api, TRAFFIC_ROUTE, name, namespace=None)
