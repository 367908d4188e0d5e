"""The mesh simulator's pure part: who gets how many requests, and what they count as (no I/O).

From the TrafficSplits and HTTPRoutes, Services and Deployments of the cluster (as read by
`meshsim_objects`), `plan` works out the request rate every Deployment receives and how it behaves;
`Simulator` turns rates into counts as time passes, the way Linkerd's inbound proxies would count
them. Everything here is deterministic: the same plan, seed and time steps give the same counts.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from canary.sandbox.meshsim_objects import (
    DEFAULT_RATE,
    Backend,
    Behaviour,
    Key,
    Service,
    Split,
    Workload,
    selects,
)

# Spread of the lognormal latency: the p99 is about 2.1 times the mean.
LATENCY_SIGMA = 0.35

# The bucket bounds of the Linkerd proxy's `response_latency_ms` histogram (+Inf is implied).
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    *(1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500),
    *(1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000),
)


# The characters Kubernetes generates name suffixes from (a DaemonSet's pods: `<name>-<5 of them>`).
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def pod_name(namespace: str, deployment: str, *, daemon_set: bool = False) -> str:
    """The simulated name of the Deployment's pods: `<deployment>-<10 hex>-<5 hex>`, the shape of
    a ReplicaSet's pod name (what Flagger's `{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)` matches),
    the same for the same Deployment. All of a Deployment's replicas are counted as this one pod.
    A DaemonSet's pods are `<name>-<5 characters>`, with no ReplicaSet hash.
    """
    digest = hashlib.sha256(f"{namespace}/{deployment}".encode()).hexdigest()
    if daemon_set:
        suffix = "".join(
            _NAME_SUFFIX_ALPHABET[int(digest[i : i + 2], 16) % len(_NAME_SUFFIX_ALPHABET)]
            for i in range(0, 10, 2)
        )
        return f"{deployment}-{suffix}"
    return f"{deployment}-{digest[:10]}-{digest[10:15]}"


@dataclass(frozen=True)
class Target:
    """What one Deployment receives: requests per second, and how it answers them."""

    rate: float
    behaviour: Behaviour


@dataclass(frozen=True)
class Feed:
    """One way requests reach a workload: through the route object `route` (of `route_kind`,
    in `namespace`) and its backend Service `service`, at `rate` requests per second. Exporters
    label series with them (an ingress's name, an Envoy cluster named after the Service)."""

    route_kind: str
    route: str
    namespace: str
    service: str
    service_namespace: str
    rate: float
    port: int | str | None = None  # the Service port the route names (None: it names none)


class Selection:
    """The workloads a Service's selector picks, looked up by one of its labels rather than
    by testing every workload of the cluster against every backend (quadratic at scale)."""

    def __init__(self, workloads: Iterable[Workload]) -> None:
        self._by_label: dict[tuple[str, str, str], list[Workload]] = {}
        for workload in workloads:
            for name, value in workload.template_labels.items():
                self._by_label.setdefault((workload.namespace, name, value), []).append(workload)

    def picked(self, service: Service) -> list[Workload]:
        """The workloads of the Service's namespace it selects, in the order given."""
        if not service.selector:
            return []  # an empty selector picks nothing
        name, value = next(iter(service.selector.items()))
        candidates = self._by_label.get((service.namespace, name, value), [])
        return [w for w in candidates if selects(service.selector, w.template_labels)]


def _shares(
    split: Split,
    by_service: Mapping[tuple[str, str], Service],
    selection: Selection,
    default_rate: float,
) -> Iterable[tuple[Workload, Service, float | None, Backend]]:
    """Where one split's requests go: (workload, backend Service, requests per second, the
    backend that named the Service). The portion is None for a workload the Service selects
    that has no ready pod (routed, but it receives nothing)."""
    total = sum(b.weight for b in split.backends)
    rate = (split.rate if split.rate is not None else default_rate) * split.share
    if total <= 0:
        return
    shares = [(b, rate * b.weight / total) for b in split.backends]
    shares += [(mirror, rate * mirror.weight) for mirror in split.mirrors]
    for backend, share in shares:
        service = by_service.get((backend.namespace or split.namespace, backend.service))
        if service is None:
            continue
        picked = selection.picked(service)
        ready = sum(w.ready_replicas for w in picked)
        for workload in picked:
            if workload.ready_replicas > 0 and share > 0:
                yield workload, service, share * workload.ready_replicas / ready, backend
            else:
                yield workload, service, None, backend


def plan(
    splits: Iterable[Split],
    services: Iterable[Service],
    workloads: Iterable[Workload],
    *,
    default_rate: float = DEFAULT_RATE,
) -> dict[Key, Target]:
    """The request rate of every Deployment that receives traffic.

    Each route split (a TrafficSplit, an HTTPRoute rule, any provider's route object as its
    exporter reads it) sends its rate to its backends in proportion to their weights, and a copy
    of the mirrored fraction to each mirror; a backend Service's share goes to the ready pods its
    selector picks, so to the Deployments whose pod template it matches, in proportion to their
    ready replicas. A share with no ready pod to go to is dropped: the inbound proxies never see
    it. Deployments no route reaches get the rate annotated on them, if any.
    """
    by_service = {(s.namespace, s.name): s for s in services}
    all_workloads = list(workloads)
    selection = Selection(all_workloads)
    rates: dict[Key, float] = {}
    routed: set[Key] = set()
    for split in splits:
        for workload, _, portion, _ in _shares(split, by_service, selection, default_rate):
            routed.add(workload.key)
            if portion is not None:
                rates[workload.key] = rates.get(workload.key, 0.0) + portion
    for workload in all_workloads:
        if workload.key not in routed and workload.direct_rate and workload.ready_replicas > 0:
            rates[workload.key] = workload.direct_rate
    behaviours = {w.key: w.behaviour for w in all_workloads}
    return {key: Target(rate, behaviours[key]) for key, rate in sorted(rates.items())}


def feeds(
    splits: Iterable[Split],
    services: Iterable[Service],
    workloads: Iterable[Workload],
    *,
    default_rate: float = DEFAULT_RATE,
) -> dict[Key, tuple[Feed, ...]]:
    """For every workload that receives routed requests, the routes and Services they come
    through (the same traversal as `plan`)."""
    by_service = {(s.namespace, s.name): s for s in services}
    selection = Selection(workloads)
    found: dict[Key, list[Feed]] = {}
    for split in splits:
        for workload, service, portion, backend in _shares(
            split, by_service, selection, default_rate
        ):
            if portion is None:
                continue
            feed = Feed(
                route_kind=split.kind,
                route=split.apex_route,
                namespace=split.namespace,
                service=service.name,
                service_namespace=service.namespace,
                rate=portion,
                port=backend.port,
            )
            found.setdefault(workload.key, []).append(feed)
    return {key: tuple(entries) for key, entries in sorted(found.items())}


@dataclass
class Accumulator:
    """Whole requests out of a fractional rate: the remainder carries over, so none is lost."""

    carry: float = 0.0

    def take(self, amount: float) -> int:
        due = self.carry + amount
        whole = math.floor(due + 1e-9)
        self.carry = max(due - whole, 0.0)
        return whole


@dataclass
class Series:
    """The counts of one Deployment's inbound proxy, as Linkerd reports them; the failures'
    share of the latency histogram is kept apart too, for the application's own histogram,
    which has a series per HTTP status. It changes only by answering requests (`advance`),
    so a count that did not change means nothing did (`meshsim_exposition` relies on it)."""

    successes: int = 0
    failures: int = 0
    # Per-bucket (not cumulative) counts; the last one is +Inf.
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    latency_sum_ms: float = 0.0
    failure_buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    failure_latency_sum_ms: float = 0.0

    @property
    def count(self) -> int:
        return self.successes + self.failures

    def cumulative(self) -> list[tuple[str, int]]:
        """`(le, count)` pairs, cumulative, ending with `+Inf` (`le` in milliseconds)."""
        bounds = [f"{b:g}" for b in LATENCY_BUCKETS_MS] + ["+Inf"]
        return list(zip(bounds, itertools.accumulate(self.buckets), strict=True))


@dataclass
class _Source:
    requests: Accumulator = field(default_factory=Accumulator)
    failures: Accumulator = field(default_factory=Accumulator)
    rng: random.Random = field(default_factory=random.Random)
    series: Series | None = None  # None until the first request: no traffic, no series


class Simulator:
    """Counts requests as simulated time passes, following the latest plan."""

    def __init__(self, *, seed: int = 0) -> None:
        self._seed = seed
        self._plan: dict[Key, Target] = {}
        self._sources: dict[Key, _Source] = {}
        self._daemon_sets: frozenset[Key] = frozenset()
        self.routes: dict[Key, tuple[Feed, ...]] = {}

    @property
    def current_plan(self) -> Mapping[Key, Target]:
        return self._plan

    def set_plan(
        self,
        new_plan: Mapping[Key, Target],
        *,
        existing: Iterable[Key],
        daemon_sets: Iterable[Key] = (),
        routes: Mapping[Key, tuple[Feed, ...]] | None = None,
    ) -> None:
        """Follow `new_plan` from now on; forget the counts of Deployments that no longer exist.
        `daemon_sets` are the workloads that are DaemonSets (their pods are named so); `routes`
        are the ways requests reach each workload (`feeds`), for the exporters' labels."""
        self._plan = dict(new_plan)
        if routes is not None:
            self.routes = dict(routes)
        self._daemon_sets = frozenset(daemon_sets)
        alive = set(existing) | set(new_plan)
        for key in [k for k in self._sources if k not in alive]:
            del self._sources[key]

    def advance(self, seconds: float) -> None:
        """Let `seconds` pass: every planned Deployment answers its share of requests."""
        for key, target in self._plan.items():
            source = self._sources.get(key)
            if source is None:
                # Not for security: a reproducible stream of latencies per Deployment.
                rng = random.Random(f"{self._seed}/{key[0]}/{key[1]}")  # noqa: S311
                source = _Source(rng=rng)
                self._sources[key] = source
            requests = source.requests.take(target.rate * seconds)
            if requests == 0:
                continue
            failures = min(source.failures.take(requests * target.behaviour.error_rate), requests)
            series = source.series if source.series is not None else Series()
            source.series = series
            series.failures += failures
            series.successes += requests - failures
            mu = math.log(target.behaviour.latency_ms) - LATENCY_SIGMA**2 / 2
            for number in range(requests):
                latency = source.rng.lognormvariate(mu, LATENCY_SIGMA)
                bucket = bisect.bisect_left(LATENCY_BUCKETS_MS, latency)
                series.buckets[bucket] += 1
                series.latency_sum_ms += latency
                if number < failures:  # the first `failures` requests of the tick failed
                    series.failure_buckets[bucket] += 1
                    series.failure_latency_sum_ms += latency

    def pod_name(self, key: Key) -> str:
        """The simulated name of the pods of the workload `key`."""
        return pod_name(key[0], key[1], daemon_set=key in self._daemon_sets)

    def series(self) -> dict[Key, Series]:
        """The counts of every Deployment that has answered at least one request."""
        return {k: s.series for k, s in sorted(self._sources.items()) if s.series is not None}
