"""The seam between the mesh simulator and one provider it imitates (`MeshsimProvider`).

A provider contributes the route objects the simulator follows (`RouteSource`: a resource kind
and a parser that reads one object as `Split`s: requests divided among Services by weight, with
mirrors) and an exporter: at scrape time it turns the simulated counts of every workload
(`Traffic`) into the series that provider's proxies or ingress would report, under their names
and labels, so that the builtin queries of that provider read them. Counters must only grow:
label each workload's counts with one stable identity (its first feed, say), never share them
out by the current weights. This module holds shapes only; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import Metric

from canary.kube.resources import ResourceKind
from canary.sandbox.meshsim_model import Feed, Series
from canary.sandbox.meshsim_objects import Key, Split


@dataclass(frozen=True)
class Traffic:
    """What an exporter reads: each workload's counts (`series`), the routes and Services its
    requests come through (`routes`), and the simulated name of its pods (`pod_name`)."""

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


Export = Callable[[Traffic], Iterable[Metric]]


@dataclass(frozen=True)
class MeshsimProvider:
    """One provider the simulator imitates: what it follows, and what it exports."""

    name: str
    routes: tuple[RouteSource, ...] = ()
    export: Export | None = None
