"""The kinds of workload a Canary can release, behind one seam: Deployment and DaemonSet.

The controller asks the target's `Workload` what differs between kinds (which resource to read,
the template as the user wrote it, the primary's manifest, readiness, whether the target is
parked) instead of testing the kind everywhere. A Deployment is parked at zero replicas; a
DaemonSet, having no replica count, by a node selector that matches no node
(`canary.targets.daemonset`). The cluster calls that park and start a target live in
`canary.targets.apply`.

Pure: no I/O here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from canary.core.model import WorkloadReadiness
from canary.kube.resources import DAEMON_SET, DEPLOYMENT, CanaryRef, ResourceKind
from canary.targets import daemonset
from canary.targets.deployment import TargetError, deployment_readiness, primary_deployment


class Workload(ABC):
    """One releasable kind; `noun` names it in messages ("deployment", "daemonset")."""

    resource: ResourceKind
    noun: str
    replicated: bool  # whether it has a replica count (and so may have an autoscaler)

    @property
    def kind(self) -> str:
        return self.resource.kind

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


DEPLOYMENT_WORKLOAD: Final[Workload] = DeploymentWorkload()
DAEMON_SET_WORKLOAD: Final[Workload] = DaemonSetWorkload()
_BY_KIND: Final = {w.kind: w for w in (DEPLOYMENT_WORKLOAD, DAEMON_SET_WORKLOAD)}
KINDS: Final = tuple(_BY_KIND)


def workload_of(kind: str) -> Workload:
    """The `Workload` of a targetRef kind; an unknown kind is a configuration error."""
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise TargetError(
            f"targetRef.kind {kind!r} cannot be released; use one of {', '.join(KINDS)}"
        ) from None
