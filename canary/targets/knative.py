"""A Knative Service as a Canary's target: its revisions, the primary it records, readiness.

Knative keeps every version of a Service as an immutable Revision and routes among them by the
Service's `spec.traffic`. So, as Flagger does, nothing is copied for a Knative target: the
primary is the Revision named by the Service's annotation `flagger.app/primary-revision` (the
key Flagger writes, so a Service released by Flagger before keeps its primary), the canary is
the latest Revision Knative created (`status.latestCreatedRevisionName`), and a release's
revision is that Revision's name. No `-primary` copy, no generated Services, no config tracking
(a change of configuration reaches a Knative Service through a new Revision), no scaling: the
traffic block is the only lever (`canary.routers.knative`).

Pure: it builds manifests and reads objects given to it; the patches are applied by
`canary.targets.apply`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from canary.core.model import WorkloadReadiness
from canary.kube.resources import KNATIVE_PRIMARY_REVISION, KNATIVE_SERVICE

PRIMARY_REVISION_ANNOTATION: Final = KNATIVE_PRIMARY_REVISION


def _metadata(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("metadata") or {}


def primary_revision(service: Mapping[str, Any] | None) -> str:
    """The Revision recorded as the primary (the annotation), or "" before initialization."""
    value = (_metadata(service).get("annotations") or {}).get(PRIMARY_REVISION_ANNOTATION)
    return value if isinstance(value, str) else ""


def latest_created_revision(service: Mapping[str, Any] | None) -> str:
    """The latest Revision Knative created for the Service's template ("" before the first).

    While Knative has not yet observed the Service's current generation, the name is of the
    previous template's Revision: a new revision is seen once Knative has created it.
    """
    value = ((service or {}).get("status") or {}).get("latestCreatedRevisionName")
    return value if isinstance(value, str) else ""


def primary_patch(service: Mapping[str, Any], *, revision: str) -> dict[str, Any]:
    """The manifest that records `revision` as the Service's primary (a merge patch's body)."""
    metadata = _metadata(service)
    return {
        "apiVersion": KNATIVE_SERVICE.api_version,
        "kind": KNATIVE_SERVICE.kind,
        "metadata": {
            "name": metadata.get("name"),
            "namespace": metadata.get("namespace"),
            "annotations": {PRIMARY_REVISION_ANNOTATION: revision},
        },
    }


def revision_readiness(revision: Mapping[str, Any] | None) -> WorkloadReadiness:
    """Whether a Revision serves: its `Ready` condition is True (what Knative sets once its pods
    are up). Knative fails a Revision that cannot start (`Ready=False`); the Canary's progress
    deadline then applies, from the persisted phase times."""
    if revision is None:
        return WorkloadReadiness(exists=False, ready=False, message="revision does not exist")
    name = str(_metadata(revision).get("name", "<unnamed>"))
    conditions = ((revision.get("status") or {}).get("conditions")) or []
    ready = next((c for c in conditions if isinstance(c, Mapping) and c.get("type") == "Ready"), {})
    if ready.get("status") == "True":
        return WorkloadReadiness(exists=True, ready=True, message=f"revision {name} is ready")
    why = ": ".join(str(ready[k]) for k in ("reason", "message") if ready.get(k))
    return WorkloadReadiness(
        exists=True,
        ready=False,
        message=f"waiting for knative revision {name} to be ready" + (f" ({why})" if why else ""),
    )
