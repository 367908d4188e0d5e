"""The plain inputs of a metric check, so this package never depends on the API models.

The controller converts a Canary's `analysis.metrics[]` entry (and the MetricTemplate it points
to) into a `MetricSpec`, and the Canary itself into a `CanaryContext`. Defaults follow Flagger:
the interval is `1m`; service, ingress and route fall back to the target's name. This module
must not do I/O or validate PromQL; rendering (template.py) validates what goes into a query.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_INTERVAL = "1m"
# The mesh whose proxy metrics the builtin checks read when the Canary names no provider.
DEFAULT_PROVIDER = "linkerd"


@dataclass(frozen=True)
class MetricSpec:
    """One `analysis.metrics[]` entry, with its MetricTemplate's query resolved by the controller.

    `query` is Flagger's deprecated inline PromQL; `template_query` is the MetricTemplate's
    `spec.query`. Both are templates. `min`/`max` are `thresholdRange` (inclusive bounds; for
    `request-duration` in milliseconds). `threshold` is Flagger's legacy single bound: a minimum
    for `request-success-rate`, a maximum for everything else; it is ignored when `min` or `max`
    is set.
    """

    name: str
    interval: str = DEFAULT_INTERVAL
    min: float | None = None
    max: float | None = None
    threshold: float | None = None
    query: str | None = None
    template_query: str | None = None
    template_variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CanaryContext:
    """The names a query may refer to: Flagger's template functions, minus `interval`.

    `provider` is the Canary's `spec.provider` (or the controller's default mesh); it picks the
    builtin queries. `service`, `ingress` and `route` default to `target` as in Flagger.
    """

    name: str
    namespace: str
    target: str
    service: str | None = None
    ingress: str | None = None
    route: str | None = None
    provider: str = DEFAULT_PROVIDER
    target_kind: str = "Deployment"  # the builtin checks find a DaemonSet's pods by their names

    @property
    def service_name(self) -> str:
        return self.service or self.target

    @property
    def ingress_name(self) -> str:
        return self.ingress or self.target

    @property
    def route_name(self) -> str:
        return self.route or self.target
