"""The kinds of workload a Canary can release, behind one seam: Deployment, DaemonSet and a
Knative Service.

The controller asks the target's `Workload` what differs between kinds (which resource to read,
the template as the user wrote it, the primary's manifest, readiness, whether the target is
parked, where the primary and the canary are, what a revision is) instead of testing the kind
everywhere. A Deployment is parked at zero replicas; a DaemonSet, having no replica count, by a
node selector that matches no node (`canary.targets.daemonset`). A Knative Service holds its
primary itself (`copies` is False): the primary and the canary are two of its Revisions, and
a revision is a Revision's name (`canary.targets.knative`). The cluster calls that park and
start a target live in `canary.targets.apply`.

Pure: no I/O here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from canary.core.model import WorkloadReadiness
from canary.kube.resources import (
    DAEMON_SET,
    DEPLOYMENT,
    KNATIVE_REVISION,
    KNATIVE_SERVICE,
    CanaryRef,
    ResourceKind,
)
from canary.targets import daemonset, knative
from canary.targets.configs import TrackedConfigs
from canary.targets.deployment import (
    REVISION_ANNOTATION,
    TargetError,
    deployment_readiness,
    primary_deployment,
    primary_name,
)

# Where an object is: its kind and name, in the Canary's namespace.
ObjectAt = tuple[ResourceKind, str]


class Workload(ABC):
    """One releasable kind; `noun` names it in messages ("deployment", "daemonset")."""

    resource: ResourceKind
    noun: str
    replicated: bool  # whether it has a replica count (and so may have an autoscaler)
    # Whether the primary is a copy `<target>-primary` of the target (served through the
    # generated Services, the target's configs copied, the target parked between releases).
    # False: the target holds the primary itself (a Knative Service's Revisions).
    copies: bool = True
    # Whether the controller watches this kind (a change wakes the Canary at once); a kind it
    # does not watch is polled at the analysis interval, as Flagger polls every target.
    watched: bool = True

    @property
    def kind(self) -> str:
        return self.resource.kind

    def primary_at(self, target_name: str, target: Mapping[str, Any] | None) -> ObjectAt | None:  # noqa: ARG002 - a Knative target names it
        """Where the primary is (None: nowhere yet)."""
        return (self.resource, primary_name(target_name))

    def canary_at(self, target: Mapping[str, Any] | None) -> ObjectAt | None:  # noqa: ARG002 - a Knative target names it
        """Where the canary is, when not the target itself (None)."""
        return None

    def revision(self, target: Mapping[str, Any] | None, configs: TrackedConfigs) -> str:
        """The target's revision: the hash of its template and tracked configs ("" without a
        template)."""
        template = self.template(target)
        return configs.revision(template) if template is not None else ""

    def primary_revision(self, primary: Mapping[str, Any] | None) -> str:
        """The revision the primary runs, as recorded on its pod template."""
        template = ((primary or {}).get("spec") or {}).get("template") or {}
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        return str(annotations.get(REVISION_ANNOTATION, ""))

    def template(self, target: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The target's pod template as the user wrote it: what is hashed and promoted."""
        template = ((target or {}).get("spec") or {}).get("template")
        return dict(template) if isinstance(template, Mapping) else None

    @abstractmethod
    def primary(  # noqa: PLR0913 - keyword-only, as the builders it dispatches to
        self,
        target: Mapping[str, Any],
        *,
        template: Mapping[str, Any],
        owner: CanaryRef,
        revision: str,
        label_prefixes: Iterable[str] = (),
        manage_replicas: bool = True,
    ) -> dict[str, Any]:
        """The manifest of `<target>-primary` running `template`."""

    @abstractmethod
    def readiness(
        self,
        obj: Mapping[str, Any] | None,
        *,
        progress_deadline_seconds: float,
        ready_threshold_percent: int = 100,
        now: datetime,
    ) -> WorkloadReadiness:
        """Whether `obj` (the target or the primary) is rolled out and available."""

    @abstractmethod
    def parked(self, target: Mapping[str, Any] | None) -> bool:
        """Whether the target is parked (serves nothing) between releases."""


class DeploymentWorkload(Workload):
    resource = DEPLOYMENT
    noun = "deployment"
    replicated = True

    def primary(  # noqa: PLR0913 - keyword-only, as the builder
        self,
        target: Mapping[str, Any],
        *,
        template: Mapping[str, Any],
        owner: CanaryRef,
        revision: str,
        label_prefixes: Iterable[str] = (),
        manage_replicas: bool = True,
    ) -> dict[str, Any]:
        return primary_deployment(
            target,
            template=template,
            owner=owner,
            revision=revision,
            label_prefixes=label_prefixes,
            manage_replicas=manage_replicas,
        )

    def readiness(
        self,
        obj: Mapping[str, Any] | None,
        *,
        progress_deadline_seconds: float,
        ready_threshold_percent: int = 100,
        now: datetime,
    ) -> WorkloadReadiness:
        return deployment_readiness(
            obj,
            progress_deadline_seconds=progress_deadline_seconds,
            ready_threshold_percent=ready_threshold_percent,
            now=now,
        )

    def parked(self, target: Mapping[str, Any] | None) -> bool:
        return ((target or {}).get("spec") or {}).get("replicas") == 0


class DaemonSetWorkload(Workload):
    resource = DAEMON_SET
    noun = "daemonset"
    replicated = False

    def template(self, target: Mapping[str, Any] | None) -> dict[str, Any] | None:
        template = super().template(target)
        return None if template is None else daemonset.unparked_template(template)

    def primary(  # noqa: PLR0913 - keyword-only, as the builder
        self,
        target: Mapping[str, Any],
        *,
        template: Mapping[str, Any],
        owner: CanaryRef,
        revision: str,
        label_prefixes: Iterable[str] = (),
        manage_replicas: bool = True,  # noqa: ARG002 - a DaemonSet has no replicas
    ) -> dict[str, Any]:
        return daemonset.primary_daemonset(
            target, template=template, owner=owner, revision=revision, label_prefixes=label_prefixes
        )

    def readiness(
        self,
        obj: Mapping[str, Any] | None,
        *,
        progress_deadline_seconds: float,  # noqa: ARG002 - applied by the core from the status
        ready_threshold_percent: int = 100,
        now: datetime,  # noqa: ARG002 - as above
    ) -> WorkloadReadiness:
        return daemonset.daemonset_readiness(obj, ready_threshold_percent=ready_threshold_percent)

    def parked(self, target: Mapping[str, Any] | None) -> bool:
        return daemonset.is_parked(target)


class KnativeServiceWorkload(Workload):
    """A Knative Service: its primary and canary are Revisions it holds (Flagger's semantics)."""

    resource = KNATIVE_SERVICE
    noun = "knative service"
    replicated = False
    copies = False
    watched = False

    def primary_at(self, target_name: str, target: Mapping[str, Any] | None) -> ObjectAt | None:  # noqa: ARG002 - the target names it
        name = knative.primary_revision(target)
        return (KNATIVE_REVISION, name) if name else None

    def canary_at(self, target: Mapping[str, Any] | None) -> ObjectAt | None:
        name = knative.latest_created_revision(target)
        return (KNATIVE_REVISION, name) if name else None

    def revision(self, target: Mapping[str, Any] | None, configs: TrackedConfigs) -> str:  # noqa: ARG002 - configs are not tracked
        return knative.latest_created_revision(target)

    def primary_revision(self, primary: Mapping[str, Any] | None) -> str:
        return str(((primary or {}).get("metadata") or {}).get("name", ""))

    def primary(  # noqa: PLR0913 - keyword-only, as the builders
        self,
        target: Mapping[str, Any],
        *,
        template: Mapping[str, Any],  # noqa: ARG002 - Knative keeps every template as a Revision
        owner: CanaryRef,  # noqa: ARG002 - the Service is the user's, never the Canary's
        revision: str,
        label_prefixes: Iterable[str] = (),  # noqa: ARG002 - nothing is copied
        manage_replicas: bool = True,  # noqa: ARG002 - Knative scales its Revisions
    ) -> dict[str, Any]:
        """The Service with `revision` (a Revision's name) recorded as its primary."""
        return knative.primary_patch(target, revision=revision)

    def readiness(
        self,
        obj: Mapping[str, Any] | None,
        *,
        progress_deadline_seconds: float,  # noqa: ARG002 - applied by the core from the status
        ready_threshold_percent: int = 100,  # noqa: ARG002 - Knative says when a Revision serves
        now: datetime,  # noqa: ARG002 - as above
    ) -> WorkloadReadiness:
        """Whether `obj`, a Revision (the primary or the canary), serves."""
        return knative.revision_readiness(obj)

    def parked(self, target: Mapping[str, Any] | None) -> bool:  # noqa: ARG002 - never parked
        return False


DEPLOYMENT_WORKLOAD: Final[Workload] = DeploymentWorkload()
DAEMON_SET_WORKLOAD: Final[Workload] = DaemonSetWorkload()
KNATIVE_SERVICE_WORKLOAD: Final[Workload] = KnativeServiceWorkload()
_BY_KIND: Final = {
    w.kind: w for w in (DEPLOYMENT_WORKLOAD, DAEMON_SET_WORKLOAD, KNATIVE_SERVICE_WORKLOAD)
}
KINDS: Final = tuple(_BY_KIND)


def workload_of(kind: str) -> Workload:
    """The `Workload` of a targetRef kind; an unknown kind is a configuration error."""
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise TargetError(
            f"targetRef.kind {kind!r} cannot be released; use one of {', '.join(KINDS)}"
        ) from None
