"""The seam between the mesh simulator and one provider it imitates (`MeshsimProvider`).

A provider contributes the route objects the simulator follows (`RouteSource`: a resource kind
and a parser that reads one object as `Split`s: requests divided among Services by weight, with
mirrors) and its exporter: the metric families (`Family`) its proxies or ingress would report,
and, for one workload (`Exported`: its key, the routes its requests come through, its pod's
name), the series it gets in them under that provider's names and labels, so that the builtin
queries of that provider read them. A series is declared, not computed: a `Count` of the
workload's requests of one `Outcome`, or a `Latency` histogram of them, and the renderer
(`canary.sandbox.exposition`) fills in the numbers at scrape time. The labels depend on the
workload's routes and pod only, so they are worked out once per workload, not per scrape.
Counters must only grow: label each workload's counts with one stable identity (its first
feed, say), never share them out by the current weights. This module holds shapes only; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal

from canary.kube.resources import ResourceKind
from canary.sandbox.meshsim_model import Feed, Series
from canary.sandbox.meshsim_objects import Key, Split


@dataclass(frozen=True)
class Traffic:
    """What /metrics is written from: each workload's counts (`series`), the routes and
    Services its requests come through (`routes`), and the simulated name of its pods."""

    series: Mapping[Key, Series]
    routes: Mapping[Key, tuple[Feed, ...]]
    pod_name: Callable[[Key], str]


@dataclass(frozen=True)
class RouteSource:
    """A kind of route object the simulator lists, and how one object reads as splits; or,
    with `parse_all`, how the listed objects read together (an ingress controller's canary
    Ingress takes requests from the Ingress it shadows, which it does not name)."""

    kind: ResourceKind
    parse: Callable[[Mapping[str, Any]], list[Split]] | None = None
    parse_all: Callable[[Sequence[Mapping[str, Any]]], list[Split]] | None = None

    def splits(self, manifests: Sequence[Mapping[str, Any]]) -> list[Split]:
        """The splits of every listed object of this kind."""
        if self.parse_all is not None:
            return self.parse_all(manifests)
        parse = self.parse
        return [] if parse is None else [split for m in manifests for split in parse(m)]


class Outcome(Enum):
    """Which of a workload's requests a series counts. A series of the succeeded (or failed)
    ones is only exported once there is one; a series of all of them always is."""

    ALL = "all"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True)
class Family:
    """One metric family, named as prometheus_client names it: a `counter` is exposed as
    `<name>_total`, a `histogram` as `<name>_bucket`, `_count` and `_sum`; an `untyped` one
    under its name (a counter whose exporter gives it no `_total` suffix, as Envoy's)."""

    name: str
    documentation: str
    type: Literal["counter", "histogram", "untyped"]


@dataclass(frozen=True)
class Count:
    """A sample of `family`: how many requests of `outcome` the workload answered."""

    family: Family
    labels: Mapping[str, str]
    outcome: Outcome


@dataclass(frozen=True)
class Latency:
    """The histogram series of `family`: the latencies of the workload's requests of
    `outcome`, with bucket bounds and sum in seconds when `seconds`, else in milliseconds."""

    family: Family
    labels: Mapping[str, str]
    outcome: Outcome
    seconds: bool = False


@dataclass(frozen=True)
class Exported:
    """One workload as an exporter labels it: its key, the routes and Services its requests
    come through, and the simulated name of its pods."""

    key: Key
    feeds: tuple[Feed, ...]
    pod_name: str


SeriesOf = Callable[[Exported], Iterable[Count | Latency]]


@dataclass(frozen=True)
class MeshsimProvider:
    """One provider the simulator imitates: what it follows, and what it exports: its
    `families`, and the series (`series`) each workload has in them."""

    name: str
    routes: tuple[RouteSource, ...] = ()
    families: tuple[Family, ...] = ()
    series: SeriesOf | None = None
