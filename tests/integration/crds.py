"""Install the project's CRDs into the sandbox, for any test that needs Canaries to exist.

The same path as `canary crds install`: server-side apply of every CRD the models generate (a
sandbox reused across model changes gets the new schema), then a wait until each is Established.
"""

from __future__ import annotations

from canary.api.crd import all_crds
from canary.kube.client import ApiClient
from canary.kube.crds import install_crds as install


async def install_crds(api_client: ApiClient) -> list[str]:
    """Apply every CRD of `canary.api`, wait until each is Established; their names."""
    return await install(api_client, all_crds().values())
