"""The shape of one provider's builtin queries (`BuiltinTable`), and how they are written down.

Templates use the MetricTemplate variables (`{{ namespace }}`, `{{ target }}`, `{{ service }}`,
`{{ ingress }}`, `{{ route }}`, `{{ interval }}`), rendered by `canary.metrics.template` like any
MetricTemplate. Queries are stored with whitespace collapsed, as Flagger sends them (flagger.md
§5.2), without Flagger's leading space. Data only: this module must not render or query.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass


def collapse(query: str) -> str:
    """A query as one line: every run of whitespace one space, none at either end."""
    return re.sub(r"\s+", " ", query).strip()


@dataclass(frozen=True)
class BuiltinTable:
    """The builtin queries of one mesh (`mesh` names it in messages and tests).

    `success_rate` is a percentage; `duration` is a p99 latency, in milliseconds once
    multiplied by `duration_scale` (1000 for a histogram in seconds); `request_rate` is the
    requests per second the target serves (shown by `canary status`, not judged).
    `daemon_set` is the variant for a DaemonSet target where its pods are selected differently.
    `encode`, when set, is applied to the names the queries use (`{{ namespace }}`,
    `{{ target }}`, ...) before rendering (Skipper's route ids spell them with `_` for `-`).

    For the views that show the primary beside the canary (`canary describe`, the dashboard):
    `primary`, when set, is the same queries for the primary's series, rendered with the
    Canary's own names, for a provider whose queries pick the canary's series by a name of its
    own (the `<apex>-canary` Service's cluster, the canary Ingress) rather than by
    `{{ target }}`. Without it, the primary's series are the ones these queries select when
    rendered with the primary's names (`{{ target }}` the `<target>-primary` Deployment, a
    Knative `{{ route }}` the primary's Revision). `together`, when set, says why the
    provider's series cannot tell the primary's requests from the canary's at all.
    `duration_statistic` names what `duration` measures (`p99`, or `mean` where it is a mean).
    """

    mesh: str
    success_rate: str
    duration: str
    request_rate: str
    duration_scale: float = 1.0
    daemon_set: BuiltinTable | None = None
    encode: Callable[[str], str] | None = None
    primary: BuiltinTable | None = None
    together: str = ""
    duration_statistic: str = "p99"
