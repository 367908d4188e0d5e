"""Typed, generic access to any object the controller writes: get, create, apply, patch, delete.

Targets and routers build plain manifest dicts; this module sends them. It addresses core, apps
and custom resources alike from `apiVersion` and `kind` (through a small registry of the kinds the
controller knows), writes with server-side apply under one field manager so that repeating an
action is harmless, bounds every request with a timeout, and turns every failure into the small
hierarchy of `canary.kube.errors`. It must not decide anything or build manifests: what to write
belongs to the callers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

import aiohttp
import structlog
from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.client.exceptions import ApiException

from canary.kube.answers import API_SERVER, SLOW_ANSWER
from canary.kube.errors import KubeError, NotFound, Transient, from_status
from canary.kube.metrics import NO_ANSWER, count_path, describe

log = structlog.get_logger(__name__)

FIELD_MANAGER: Final = "canary-controller"
# Every request is bounded by this; a caller wanting less wraps its call in `asyncio.timeout`.
REQUEST_TIMEOUT: Final = 30.0

APPLY_PATCH: Final = "application/apply-patch+yaml"  # JSON is YAML, so a JSON body is fine
MERGE_PATCH: Final = "application/merge-patch+json"


@dataclass(frozen=True)
class ResourceKind:
    """Where objects of one kind live: `/api[s]/<apiVersion>/[namespaces/<ns>/]<plural>`."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    def collection(self, namespace: str | None) -> str:
        """The list/watch path in `namespace`, or across all namespaces when it is None."""
        if namespace is None or not self.namespaced:
            prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
            return f"{prefix}/{self.plural}"
        return self.path(namespace=namespace)

    def path(self, *, namespace: str | None, name: str | None = None) -> str:
        """The collection path (or the object path, with `name`) in `namespace`."""
        prefix = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced:
            if not namespace:
                raise ValueError(f"{self.kind} is namespaced: a namespace is required")
            prefix += f"/namespaces/{quote(namespace, safe='')}"
        collection = f"{prefix}/{self.plural}"
        return collection if name is None else f"{collection}/{quote(name, safe='')}"


# kind -> (plural, namespaced). Group and version come from the manifest's apiVersion, so one
# entry serves every version of a kind (TrafficSplit v1alpha1..v1alpha4, HTTPRoute v1beta1/v1).
_KNOWN_KINDS: Final[Mapping[str, tuple[str, bool]]] = {
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "Service": ("services", True),
    "Deployment": ("deployments", True),
    "DaemonSet": ("daemonsets", True),
    "HorizontalPodAutoscaler": ("horizontalpodautoscalers", True),
    "ScaledObject": ("scaledobjects", True),
    "TrafficSplit": ("trafficsplits", True),
    "HTTPRoute": ("httproutes", True),
    "HTTPRouteGroup": ("httproutegroups", True),
    "Ingress": ("ingresses", True),
    "VirtualService": ("virtualservices", True),
    "DestinationRule": ("destinationrules", True),
    "Gateway": ("gateways", True),  # Istio's and the Gateway API's
    "HTTPProxy": ("httpproxies", True),
    "RouteTable": ("routetables", True),
    "Upstream": ("upstreams", True),
    "TraefikService": ("traefikservices", True),
    "IngressRoute": ("ingressroutes", True),
    "ApisixRoute": ("apisixroutes", True),
    "Canary": ("canaries", True),
    "MetricTemplate": ("metrictemplates", True),
    "AlertProvider": ("alertproviders", True),
    "KeptnMetric": ("keptnmetrics", True),
    "Analysis": ("analyses", True),
    "Namespace": ("namespaces", False),
    "Node": ("nodes", False),
    "ServiceAccount": ("serviceaccounts", True),
    "Role": ("roles", True),
    "RoleBinding": ("rolebindings", True),
    "CustomResourceDefinition": ("customresourcedefinitions", False),
    "Lease": ("leases", True),
    "Revision": ("revisions", True),  # Knative Serving's (serving.knative.dev)
    "TrafficRoute": ("trafficroutes", False),  # Kuma's (kuma.io): cluster-scoped
    "Event": ("events", True),
}


def resource_kind(api_version: str, kind: str) -> ResourceKind:
    """The `ResourceKind` of a known `kind`; an unknown kind is an error, never a guessed plural."""
    try:
        plural, namespaced = _KNOWN_KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(_KNOWN_KINDS))
        raise ValueError(f"unknown kind {kind!r} ({api_version}); known kinds: {known}") from None
    return ResourceKind(api_version, kind, plural, namespaced)


DEPLOYMENT: Final = resource_kind("apps/v1", "Deployment")
DAEMON_SET: Final = resource_kind("apps/v1", "DaemonSet")
SERVICE: Final = resource_kind("v1", "Service")
CONFIG_MAP: Final = resource_kind("v1", "ConfigMap")
HORIZONTAL_POD_AUTOSCALER: Final = resource_kind("autoscaling/v2", "HorizontalPodAutoscaler")
SCALED_OBJECT: Final = resource_kind("keda.sh/v1alpha1", "ScaledObject")
SECRET: Final = resource_kind("v1", "Secret")
# A Knative Service has the core Service's kind and plural: only its API version tells them apart.
KNATIVE_SERVICE: Final = resource_kind("serving.knative.dev/v1", "Service")
KNATIVE_REVISION: Final = resource_kind("serving.knative.dev/v1", "Revision")
TRAFFIC_ROUTE: Final = resource_kind("kuma.io/v1alpha1", "TrafficRoute")
# Where a Knative Service records its primary Revision (the key Flagger writes).
KNATIVE_PRIMARY_REVISION: Final = "flagger.app/primary-revision"
CUSTOM_RESOURCE_DEFINITION: Final = resource_kind(
    "apiextensions.k8s.io/v1", "CustomResourceDefinition"
)


@dataclass(frozen=True)
class CanaryRef:
    """The owner of everything the controller creates for one Canary (for garbage collection)."""

    name: str
    namespace: str
    uid: str
    api_version: str = "canary.dev/v1alpha1"
    kind: str = "Canary"

    def owner_reference(self) -> dict[str, Any]:
        """A controller owner reference: deleting the owner deletes the object."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


def _locate(manifest: Mapping[str, Any]) -> tuple[ResourceKind, str, str | None]:
    """The kind, name and namespace a manifest addresses."""
    metadata = manifest.get("metadata") or {}
    api_version, kind, name = manifest.get("apiVersion"), manifest.get("kind"), metadata.get("name")
    if isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str):
        resource = resource_kind(api_version, kind)
        namespace = metadata.get("namespace") if resource.namespaced else None
        return resource, name, namespace
    raise ValueError("a manifest needs apiVersion, kind and metadata.name")


async def _request(  # noqa: PLR0913 - a transport primitive; every caller passes keywords
    api: ApiClient,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    payload: Mapping[str, Any] | None = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    """One request; the decoded JSON response, or a `KubeError`. Counted in `API_REQUESTS`;
    one that gets no answer is logged as a warning naming the call."""
    code: int | str = NO_ANSWER
    verb, resource = describe(method, path)
    started = time.monotonic()
    judged = True
    try:
        with API_SERVER.waiting(f"{verb} {resource}"):
            async with asyncio.timeout(REQUEST_TIMEOUT):
                result, code, _headers = await api.call_api(
                    path,
                    method,
                    query_params=query or [],
                    header_params={"Accept": "application/json", "Content-Type": content_type},
                    body=dict(payload) if payload is not None else None,
                    response_types_map={200: "object", 201: "object", 202: "object"},
                    auth_settings=["BearerToken"],
                    _return_http_data_only=False,
                    _request_timeout=REQUEST_TIMEOUT,
                )
    except ApiException as error:
        code = int(error.status or 0)
        raise from_status(
            int(error.status or 0), body=error.body, fallback=f"{method} {path}: {error.reason}"
        ) from error
    except TimeoutError as error:
        log.warning("api_request_unanswered", call=f"{method} {path}", timeout=REQUEST_TIMEOUT)
        raise Transient(f"{method} {path}: no answer within {REQUEST_TIMEOUT:g} s") from error
    except aiohttp.ClientError as error:
        log.warning("api_request_failed", call=f"{method} {path}", error=str(error))
        raise Transient(f"{method} {path}: {error}") from error
    except asyncio.CancelledError:
        # Given up by the caller (its own deadline, a stopping cycle): no evidence against the
        # server unless it had already waited too long.
        judged = time.monotonic() - started >= SLOW_ANSWER
        raise
    finally:
        count_path(method, path, code, judged=judged, seconds=time.monotonic() - started)
    if not isinstance(result, dict):
        raise KubeError(f"{method} {path}: expected a JSON object, got {type(result).__name__}")
    return result


async def get(
    api: ApiClient,
    resource: ResourceKind,
    name: str,
    *,
    namespace: str | None,
) -> dict[str, Any] | None:
    """The object `name`, or None when it does not exist (nor does its kind, if not served)."""
    try:
        return await _request(api, "GET", resource.path(namespace=namespace, name=name))
    except NotFound:
        return None


async def version(api: ApiClient) -> dict[str, Any]:
    """The API server's version (GET /version): the cheapest request there is, which every
    authenticated client may send; the heartbeat of `canary.kube.answers` uses it."""
    return await _request(api, "GET", "/version")


# How a caller reads one object: (kind, namespace, name) -> the object, or None when absent. The
# controller passes one that answers from its watch caches; `api_reader` asks the API server.
Reader = Callable[[ResourceKind, str, str], Awaitable[dict[str, Any] | None]]


def api_reader(api: ApiClient) -> Reader:
    async def read(resource: ResourceKind, namespace: str, name: str) -> dict[str, Any] | None:
        return await get(api, resource, name, namespace=namespace)

    return read


async def create(api: ApiClient, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Create the object; `Conflict` when it already exists."""
    resource, _, namespace = _locate(manifest)
    path = resource.path(namespace=namespace)
    return await _request(api, "POST", path, payload=manifest)


async def apply(
    api: ApiClient,
    manifest: Mapping[str, Any],
    *,
    field_manager: str = FIELD_MANAGER,
) -> dict[str, Any]:
    """Server-side apply the full `manifest` (forcing ownership of every field it sets).

    The manifest states everything this field manager owns: fields it set before and omits now
    are removed, fields other managers own are left alone. Applying the same manifest twice
    changes nothing (not even the resourceVersion).
    """
    resource, name, namespace = _locate(manifest)
    return await _request(
        api,
        "PATCH",
        resource.path(namespace=namespace, name=name),
        query=[("fieldManager", field_manager), ("force", "true")],
        payload=manifest,
        content_type=APPLY_PATCH,
    )


async def merge_patch(  # noqa: PLR0913 - keyword-only beyond the object's address
    api: ApiClient,
    resource: ResourceKind,
    name: str,
    *,
    namespace: str | None,
    patch: Mapping[str, Any],
    field_manager: str = FIELD_MANAGER,
) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) of the object `name`; `NotFound` when it is absent."""
    return await _request(
        api,
        "PATCH",
        resource.path(namespace=namespace, name=name),
        query=[("fieldManager", field_manager)],
        payload=patch,
        content_type=MERGE_PATCH,
    )


async def scale(
    api: ApiClient,
    resource: ResourceKind,
    name: str,
    *,
    namespace: str,
    replicas: int,
) -> dict[str, Any]:
    """Set `spec.replicas` to `replicas` (absolute, so repeating it is harmless)."""
    if replicas < 0:
        raise ValueError(f"replicas must not be negative, got {replicas}")
    return await merge_patch(
        api,
        resource,
        name,
        namespace=namespace,
        patch={"spec": {"replicas": replicas}},
    )


async def delete(  # noqa: PLR0913 - keyword-only beyond the object's address
    api: ApiClient,
    resource: ResourceKind,
    name: str,
    *,
    namespace: str | None,
    uid: str = "",
    resource_version: str = "",
) -> bool:
    """Delete the object (its dependents in the background); False when it was already gone.

    With `uid` or `resource_version`, only the object of that uid (or in that version) is
    deleted: another one answers `Conflict` (the API server's delete preconditions)."""
    preconditions = {
        key: value for key, value in (("uid", uid), ("resourceVersion", resource_version)) if value
    }
    options = (
        {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions}
        if preconditions
        else None
    )
    try:
        await _request(
            api,
            "DELETE",
            resource.path(namespace=namespace, name=name),
            query=[("propagationPolicy", "Background")],
            payload=options,
        )
    except NotFound:
        return False
    return True


async def replace(api: ApiClient, manifest: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the whole object with `manifest`, guarded by its `metadata.resourceVersion`:
    `Conflict` when the object changed since that version was read."""
    resource, name, namespace = _locate(manifest)
    return await _request(
        api, "PUT", resource.path(namespace=namespace, name=name), payload=manifest
    )


async def replace_status(
    api: ApiClient, resource: ResourceKind, manifest: Mapping[str, Any]
) -> dict[str, Any]:
    """Replace the status subresource with `manifest["status"]`, guarded by its resourceVersion.

    The manifest is the object as read, with a new status: if the object changed since it was
    read, the API server answers 409 (`Conflict`) and nothing is written. The whole status is
    replaced, so fields the new status omits are cleared (a merge patch could not do that).
    """
    _, name, namespace = _locate(manifest)
    return await _request(
        api, "PUT", f"{resource.path(namespace=namespace, name=name)}/status", payload=manifest
    )


async def list_objects(
    api: ApiClient, resource: ResourceKind, *, namespace: str | None = None
) -> list[dict[str, Any]] | None:
    """Every `resource` object in `namespace` (all when None) as plain dicts, or None when the
    API server does not serve the kind (its CRD is not installed)."""
    try:
        listed = await _request(api, "GET", resource.collection(namespace))
    except NotFound:
        return None
    return [dict(item) for item in listed.get("items") or []]


CANARY: Final = resource_kind("canary.dev/v1alpha1", "Canary")
METRIC_TEMPLATE: Final = resource_kind("canary.dev/v1alpha1", "MetricTemplate")
ALERT_PROVIDER: Final = resource_kind("canary.dev/v1alpha1", "AlertProvider")
# Every SMI version relabels the same stored objects; v1alpha2 is the storage version.
TRAFFIC_SPLIT: Final = resource_kind("split.smi-spec.io/v1alpha2", "TrafficSplit")
# v1beta1 HTTPRoutes are the same stored objects, served as v1 too.
HTTP_ROUTE: Final = resource_kind("gateway.networking.k8s.io/v1", "HTTPRoute")
INGRESS: Final = resource_kind("networking.k8s.io/v1", "Ingress")  # nginx, skipper
VIRTUAL_SERVICE: Final = resource_kind("networking.istio.io/v1beta1", "VirtualService")
DESTINATION_RULE: Final = resource_kind("networking.istio.io/v1beta1", "DestinationRule")
HTTP_PROXY: Final = resource_kind("projectcontour.io/v1", "HTTPProxy")  # provider contour
ROUTE_TABLE: Final = resource_kind("gateway.solo.io/v1", "RouteTable")  # provider gloo
UPSTREAM: Final = resource_kind("gloo.solo.io/v1", "Upstream")  # provider gloo
LEASE: Final = resource_kind("coordination.k8s.io/v1", "Lease")  # leader election
