"""Install the project's CRDs into the sandbox, for any test that needs Canaries to exist.

`install_crds` is idempotent and safe to call from many tests of one run: it creates each CRD,
or replaces the one already there (a sandbox reused across model changes keeps an old schema
otherwise), then waits until the API server serves it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from kubernetes_asyncio.client import ApiClient, ApiextensionsV1Api, V1CustomResourceDefinition
from kubernetes_asyncio.client.exceptions import ApiException

from canary.api.crd import all_crds
from canary.kube.objects import body
from tests.integration.waiting import eventually


async def install_crds(api_client: ApiClient) -> list[str]:
    """Create or replace every CRD of `canary.api`, wait until each is Established; their names."""
    extensions = ApiextensionsV1Api(api_client)
    names = []
    for crd in all_crds().values():
        await _create_or_replace(extensions, crd)
        names.append(crd["metadata"]["name"])
    for name in names:
        await eventually(
            partial(_established, extensions, name),
            until=bool,
            within=30,
            what=f"CRD {name} established",
        )
    return names


async def _create_or_replace(extensions: ApiextensionsV1Api, crd: dict[str, Any]) -> None:
    try:
        await extensions.create_custom_resource_definition(body(crd, V1CustomResourceDefinition))
    except ApiException as error:
        if error.status != 409:
            raise
    else:
        return
    name = crd["metadata"]["name"]
    current = await extensions.read_custom_resource_definition(name)
    metadata = {**crd["metadata"], "resourceVersion": current.metadata.resource_version}
    await extensions.replace_custom_resource_definition(
        name, body({**crd, "metadata": metadata}, V1CustomResourceDefinition)
    )


async def _established(extensions: ApiextensionsV1Api, name: str) -> bool:
    crd = await extensions.read_custom_resource_definition(name)
    conditions = crd.status.conditions or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)
