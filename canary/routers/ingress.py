"""What the Ingress-based routers (`nginx`, `skipper`) share: a canary Ingress written beside
the user's Ingress (`spec.ingressRef`), as Flagger writes one for either.

The user's Ingress is read, never written. The canary Ingress `<ingressRef.name>-canary` is
applied whole (server-side apply) with the Canary as owner; an existing one the user (or
Flagger) made is adopted and the routing annotations another writer left on it are removed; one
another Canary controls is refused. Each router builds the object's spec and annotations; this
module must not know any ingress controller's annotations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.resources import INGRESS, Reader
from canary.routers.base import GITOPS_OPT_OUT, RouteError, RouteRef
from canary.routers.settings import RouteSettings

INGRESS_REF: Final = "spec.ingressRef"
# Not copied from the user's Ingress (Flagger leaves it out too): it describes that object.
LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"


def canary_ingress_name(ingress: str) -> str:
    return f"{ingress}-canary"


def ingress_ref(settings: RouteSettings) -> str:
    """The name of the user's Ingress; ValueError naming `spec.ingressRef` when unusable."""
    provider = settings.provider
    ref = settings.object_ref(INGRESS_REF)
    if ref is None or not ref.name:
        raise ValueError(
            f"{INGRESS_REF} is required with provider {provider}: name the Ingress whose "
            "paths send requests to the apex Service (apiVersion: networking.k8s.io/v1, "
            "kind: Ingress, name: ...)"
        )
    if ref.kind not in ("", "Ingress"):
        raise ValueError(
            f"{INGRESS_REF}.kind must be Ingress with provider {provider}, got {ref.kind!r}"
        )
    return ref.name


def no_apex_backend(main: Mapping[str, Any], route: RouteRef) -> RouteError:
    name = (main.get("metadata") or {}).get("name")
    return RouteError(
        f"Ingress {route.namespace}/{name} ({INGRESS_REF}) has no path whose backend is "
        f"the apex Service {route.apex}: point its paths at Service {route.apex}"
    )


def path_backends(spec: Mapping[str, Any]) -> list[tuple[list[dict[str, Any]], int]]:
    """Every path of the spec's rules, as (the rule's list of paths, index)."""
    found = []
    for rule in spec.get("rules") or []:
        paths = (rule.get("http") or {}).get("paths") or []
        found += [(paths, index) for index in range(len(paths))]
    return found


def backend_service(path: Mapping[str, Any]) -> str | None:
    name = ((path.get("backend") or {}).get("service") or {}).get("name")
    return name if isinstance(name, str) else None


def canary_metadata(
    main: Mapping[str, Any],
    route: RouteRef,
    *,
    annotations: Mapping[str, str],
    ours: Callable[[str], bool],
) -> dict[str, Any]:
    """The canary Ingress's metadata: the user's Ingress's labels and annotations (but the
    routing ones, `ours`, and kubectl's last-applied copy), the GitOps opt-out, `annotations`
    and the Canary as owner."""
    meta = main.get("metadata") or {}
    copied = {
        key: value
        for key, value in (meta.get("annotations") or {}).items()
        if not ours(key) and key != LAST_APPLIED
    }
    metadata: dict[str, Any] = {
        "name": canary_ingress_name(str(meta.get("name", ""))),
        "namespace": route.namespace,
        "annotations": {**copied, **GITOPS_OPT_OUT, **annotations},
    }
    if meta.get("labels"):
        metadata["labels"] = dict(meta["labels"])
    if route.owner is not None:
        metadata["ownerReferences"] = [route.owner.owner_reference()]
    return metadata


def _controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller") is True and ref.get("kind") == "Canary":
            return str(ref.get("uid"))
    return None


@dataclass(frozen=True)
class IngressPair:
    """Reads the user's Ingress `ingress` and writes its canary Ingress."""

    api: ApiClient
    read: Reader
    ingress: str

    @property
    def canary_name(self) -> str:
        return canary_ingress_name(self.ingress)

    async def canary(self, route: RouteRef) -> dict[str, Any] | None:
        return await self.read(INGRESS, route.namespace, self.canary_name)

    async def main(self, route: RouteRef) -> dict[str, Any]:
        """The user's Ingress; RouteError when it does not exist, or when the canary Ingress
        is another Canary's."""
        main = await resources.get(self.api, INGRESS, self.ingress, namespace=route.namespace)
        if main is None:
            raise RouteError(
                f"Ingress {route.namespace}/{self.ingress} ({INGRESS_REF}) does not exist: "
                "create it, with a path whose backend is the apex Service"
            )
        existing = await self.canary(route)
        holder = _controller_uid(existing) if existing is not None else None
        if holder is not None and holder != (route.owner.uid if route.owner else None):
            raise RouteError(
                f"Ingress {route.namespace}/{self.canary_name} is controlled by another Canary: "
                f"give this Canary another {INGRESS_REF}"
            )
        return main

    async def write(
        self, route: RouteRef, manifest: Mapping[str, Any], *, ours: Callable[[str], bool]
    ) -> None:
        """Apply the canary Ingress; remove routing annotations (`ours`) it does not set that
        another writer left (they would still route)."""
        applied = await resources.apply(self.api, manifest)
        wanted = (manifest.get("metadata") or {}).get("annotations") or {}
        stale = {
            key: None
            for key in ((applied.get("metadata") or {}).get("annotations") or {})
            if ours(key) and key not in wanted
        }
        if stale:
            await resources.merge_patch(
                self.api,
                INGRESS,
                self.canary_name,
                namespace=route.namespace,
                patch={"metadata": {"annotations": stale}},
            )
