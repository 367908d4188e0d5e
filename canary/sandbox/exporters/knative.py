"""Knative: the simulator follows Knative Services' traffic blocks and exports Kourier's Envoy
series per Revision.

A Knative Service (serving.knative.dev/v1) divides its requests among Revisions by
`spec.traffic` (`latestRevision: true` is the latest ready Revision; without a traffic block,
all go to it). Knative serves a Revision through the Deployment `<revision>-deployment`, whose
pods the Service `<revision>-private` selects (label `serving.knative.dev/revision`): the split
names those Services. The sandbox runs no Knative controller; whatever creates the Revisions
(the e2e tests' stand-in) creates them so.

Exported as Knative's ingress (Kourier's Envoy) reports them, one Envoy cluster per Revision,
named `<namespace>/<revision>`: `envoy_cluster_upstream_rq` by `envoy_response_code` and the
`envoy_cluster_upstream_rq_time` histogram in milliseconds, which Flagger's Knative queries
select on. The Revision comes from the Deployment's name, so the series keep one identity
whatever the weights. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from canary.kube.resources import KNATIVE_SERVICE
from canary.sandbox.exporters.base import (
    Count,
    Exported,
    Family,
    Latency,
    MeshsimProvider,
    Outcome,
    RouteSource,
)
from canary.sandbox.meshsim_objects import RATE_ANNOTATION, Backend, Split, parse_rate

KIND: Final = "KnativeService"  # how a split read from a Knative Service is labelled
DEPLOYMENT_SUFFIX: Final = "-deployment"
PRIVATE_SUFFIX: Final = "-private"


def splits_of_service(manifest: Mapping[str, Any]) -> list[Split]:
    """A Knative Service as one split among its Revisions' private Services, by percent."""
    meta = manifest.get("metadata") or {}
    status = manifest.get("status") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    latest = status.get("latestReadyRevisionName") or status.get("latestCreatedRevisionName")
    entries = (manifest.get("spec") or {}).get("traffic") or [
        {"latestRevision": True, "percent": 100}
    ]
    backends = []
    for entry in entries:
        revision = latest if entry.get("latestRevision") is True else entry.get("revisionName")
        percent = entry.get("percent")
        if revision and isinstance(percent, int) and percent > 0:
            backends.append(Backend(service=f"{revision}{PRIVATE_SUFFIX}", weight=float(percent)))
    rate: float | None = None
    problems: tuple[str, ...] = ()
    if RATE_ANNOTATION in (meta.get("annotations") or {}):
        text = str(meta["annotations"][RATE_ANNOTATION])
        try:
            rate = parse_rate(text)
        except ValueError as error:
            where = f"Knative Service {namespace}/{name}"
            problems = (f"{where}: annotation {RATE_ANNOTATION}: {error}; ignored",)
    if not backends:
        return []
    return [
        Split(
            namespace=namespace,
            name=name,
            apex=name,
            backends=tuple(backends),
            kind=KIND,
            rate=rate,
            problems=problems,
        )
    ]


def _revision(deployment: str) -> str | None:
    return (
        deployment.removesuffix(DEPLOYMENT_SUFFIX)
        if deployment.endswith(DEPLOYMENT_SUFFIX)
        else None
    )


# Envoy's counter has no `_total` suffix; the Python client would add one to a "counter"
# family's HELP and TYPE lines, so the family is declared untyped (rate() reads it the same).
REQUESTS = Family("envoy_cluster_upstream_rq", "Upstream requests, by response code.", "untyped")
LATENCY = Family("envoy_cluster_upstream_rq_time", "Upstream request time, in ms.", "histogram")


def series(workload: Exported) -> Iterator[Count | Latency]:
    revision = _revision(workload.key[1])
    knative = any(feed.route_kind == KIND for feed in workload.feeds)
    if revision is None or not (knative or not workload.feeds):
        return
    cluster = f"{workload.key[0]}/{revision}"
    for code, outcome in (("200", Outcome.SUCCEEDED), ("500", Outcome.FAILED)):
        yield Count(REQUESTS, {"envoy_cluster_name": cluster, "envoy_response_code": code}, outcome)
    yield Latency(LATENCY, {"envoy_cluster_name": cluster}, Outcome.ALL)


PROVIDER = MeshsimProvider(
    name="knative",
    routes=(RouteSource(KNATIVE_SERVICE, splits_of_service),),
    families=(REQUESTS, LATENCY),
    series=series,
)
