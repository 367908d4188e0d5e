"""A stand-in for Knative Serving's controller, for the e2e tests of provider `knative`.

The sandbox has the Knative Serving CRDs but no Knative controller (it would need real pods and
an ingress). This test double does, for the Knative Services of one namespace, the part of
Knative's work a Canary depends on, the way Knative does it, and nothing more:

* each new `spec.template` of a Service (a new generation) gets an immutable Revision
  `<service>-<5-digit ordinal>` (Knative's naming), served by the Deployment
  `<revision>-deployment` (the template's pods, labelled `serving.knative.dev/revision`) and
  selected by the Service `<revision>-private`: kwok runs the pods, the mesh simulator routes
  to them;
* a Revision is `Ready` once its Deployment has an available pod;
* the Service's status says what Knative says: `observedGeneration`,
  `latestCreatedRevisionName`, `latestReadyRevisionName`, and `traffic` as `spec.traffic`
  resolved to Revision names (`latestRevision: true` is the latest ready Revision, a pinned
  entry gets `latestRevision: false`), which the router reads the weights from.

No autoscaling, no scale to zero, no ingress: the mesh simulator's Knative exporter stands in
for the ingress's Envoy. Polls the API server (a few GETs a second); runs as a task for the
duration of a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

from kubernetes_asyncio.client import ApiClient

from canary.kube import resources
from canary.kube.errors import Conflict, KubeError
from canary.kube.resources import (
    DEPLOYMENT,
    KNATIVE_REVISION,
    KNATIVE_SERVICE,
    SERVICE,
)

MANAGER: Final = "knative-double"
REVISION_LABEL: Final = "serving.knative.dev/revision"
SERVICE_LABEL: Final = "serving.knative.dev/service"
POLL: Final = 0.2


def revision_name(service: str, ordinal: int) -> str:
    return f"{service}-{ordinal:05d}"


def _ready(condition: bool, reason: str = "") -> list[dict[str, Any]]:  # noqa: FBT001 - a flag
    entry: dict[str, Any] = {"type": "Ready", "status": "True" if condition else "Unknown"}
    if reason:
        entry["reason"] = reason
    return [entry]


class KnativeDouble:
    """Knative Serving's controller, minimally, for the Services of `namespace`."""

    def __init__(self, api: ApiClient, *, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self.created: dict[str, list[str]] = {}  # service -> its revisions, oldest first
        self.templates: dict[str, Any] = {}  # revision -> the Service template it was made of

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[KnativeDouble]:
        task = asyncio.create_task(self._forever(), name="knative double")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _forever(self) -> None:
        while True:
            with contextlib.suppress(Conflict):  # a newer Service: seen on the next pass
                await self.once()
            await asyncio.sleep(POLL)

    async def once(self) -> None:
        services = await resources.list_objects(self.api, KNATIVE_SERVICE, namespace=self.namespace)
        for service in services or []:
            await self._reconcile(service)

    async def _reconcile(self, service: dict[str, Any]) -> None:
        meta = service["metadata"]
        generation = int(meta.get("generation") or 1)
        status = service.get("status") or {}
        latest: str | None = status.get("latestCreatedRevisionName")
        if int(status.get("observedGeneration") or 0) < generation and self._template_changed(
            service, latest
        ):
            latest = await self._new_revision(service)
        if latest is None:
            return
        revision = await resources.get(self.api, KNATIVE_REVISION, latest, namespace=self.namespace)
        if revision is None:
            return
        ready = await self._revision_ready(revision)
        latest_ready = latest if ready else status.get("latestReadyRevisionName")
        new_status = {
            "observedGeneration": generation,
            "latestCreatedRevisionName": latest,
            "conditions": _ready(latest_ready == latest),
        }
        if latest_ready:
            new_status["latestReadyRevisionName"] = latest_ready
            new_status["traffic"] = _resolved(service, latest_ready=latest_ready)
        if new_status != status:
            await resources.replace_status(
                self.api, KNATIVE_SERVICE, {**service, "status": new_status}
            )

    def _template_changed(self, service: Mapping[str, Any], latest: str | None) -> bool:
        """Knative makes a Revision for a new template only (an edit of `traffic` makes none)."""
        if latest is None:
            return True
        return bool(self.templates.get(latest) != service["spec"].get("template"))

    async def _new_revision(self, service: Mapping[str, Any]) -> str:
        name = service["metadata"]["name"]
        revisions = self.created.setdefault(name, [])
        revision = revision_name(name, len(revisions) + 1)
        template = copy.deepcopy(service["spec"].get("template") or {})
        labels = {REVISION_LABEL: revision, SERVICE_LABEL: name}
        pod_meta = template.setdefault("metadata", {})
        pod_meta["labels"] = {**(pod_meta.get("labels") or {}), **labels}
        pod_meta.pop("name", None)
        for container in (template.get("spec") or {}).get("containers") or []:
            container.setdefault("name", "user-container")  # as Knative names it
        await resources.apply(
            self.api,
            {
                "apiVersion": KNATIVE_REVISION.api_version,
                "kind": KNATIVE_REVISION.kind,
                "metadata": {
                    "name": revision,
                    "namespace": self.namespace,
                    "labels": labels,
                },
                "spec": template.get("spec") or {},
            },
            field_manager=MANAGER,
        )
        await resources.apply(
            self.api,
            {
                "apiVersion": DEPLOYMENT.api_version,
                "kind": DEPLOYMENT.kind,
                "metadata": {"name": f"{revision}-deployment", "namespace": self.namespace},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {REVISION_LABEL: revision}},
                    "template": template,
                },
            },
            field_manager=MANAGER,
        )
        await resources.apply(
            self.api,
            {
                "apiVersion": SERVICE.api_version,
                "kind": SERVICE.kind,
                "metadata": {"name": f"{revision}-private", "namespace": self.namespace},
                "spec": {
                    "selector": {REVISION_LABEL: revision},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8012}],
                },
            },
            field_manager=MANAGER,
        )
        revisions.append(revision)
        self.templates[revision] = service["spec"].get("template")
        return revision

    async def _revision_ready(self, revision: Mapping[str, Any]) -> bool:
        name = revision["metadata"]["name"]
        deployment = await resources.get(
            self.api, DEPLOYMENT, f"{name}-deployment", namespace=self.namespace
        )
        available = int(((deployment or {}).get("status") or {}).get("availableReplicas") or 0)
        ready = available > 0
        wanted = _ready(ready, "" if ready else "Deploying")
        if ((revision.get("status") or {}).get("conditions")) != wanted:
            with contextlib.suppress(KubeError):
                await resources.replace_status(
                    self.api, KNATIVE_REVISION, {**revision, "status": {"conditions": wanted}}
                )
        return ready


def _resolved(service: Mapping[str, Any], *, latest_ready: str) -> list[dict[str, Any]]:
    """`spec.traffic` as Knative reports it in the status: each entry's Revision named, and
    `latestRevision` said on every entry (false on a pinned one; Flagger relies on it)."""
    entries = (service.get("spec") or {}).get("traffic") or [
        {"latestRevision": True, "percent": 100}
    ]
    resolved = []
    for entry in entries:
        named = dict(entry)
        if entry.get("latestRevision") is True:
            named["revisionName"] = latest_ready
        else:
            named["latestRevision"] = False
        resolved.append(named)
    return resolved
