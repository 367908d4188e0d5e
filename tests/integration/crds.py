"""Install the project's CRDs into the sandbox, for any test that needs Canaries to exist.

The same path as `canary crds install`: server-side apply of every CRD the models generate (a
sandbox reused across model changes gets the new schema), then a wait until each is Established.
"""

from __future__ import annotations

from typing import Any

from canary.api.crd import all_crds
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.crds import install_crds as install
from canary.kube.errors import Invalid
from tests.integration.waiting import eventually


async def install_crds(api_client: ApiClient) -> list[str]:
    """Apply every CRD of `canary.api`, wait until each is Established; their names."""
    return await install(api_client, all_crds().values())


async def apply_with_crds(api_client: ApiClient, manifest: dict[str, Any]) -> None:
    """Apply `manifest` with this checkout's CRDs in place, installing them again if another
    test run sharing the sandbox put an older schema back in between (then the API server
    refuses a field or an enum value this checkout added)."""

    async def attempt() -> str | None:
        await install_crds(api_client)
        try:
            await resources.apply(api_client, manifest)
        except Invalid as error:
            return str(error)
        return None

    await eventually(attempt, until=lambda error: error is None, within=60, what="apply")
