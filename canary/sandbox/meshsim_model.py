"""The mesh simulator's pure part: who gets how many requests, and what they count as (no I/O).

From the TrafficSplits and HTTPRoutes, Services and Deployments of the cluster (as plain
manifests), `plan` works out the request rate every Deployment receives and how it behaves;
`Simulator` turns rates into counts as time passes, the way Linkerd's inbound proxies would count
them. Everything here is deterministic: the same plan, seed and time steps give the same counts.
"""

from __future__ import annotations

import bisect
import math
import random
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ANNOTATION_PREFIX = "meshsim.canary.dev/"
RATE_ANNOTATION = ANNOTATION_PREFIX + "rate"
ERROR_RATE_ANNOTATION = ANNOTATION_PREFIX + "error-rate"
LATENCY_ANNOTATION = ANNOTATION_PREFIX + "latency-ms"

DEFAULT_RATE = 20.0
DEFAULT_ERROR_RATE = 0.0
DEFAULT_LATENCY_MS = 20.0
# Spread of the lognormal latency: the p99 is about 2.1 times the mean.
LATENCY_SIGMA = 0.35

# The bucket bounds of the Linkerd proxy's `response_latency_ms` histogram (+Inf is implied).
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    *(1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 100, 200, 300, 400, 500),
    *(1000, 2000, 3000, 4000, 5000, 10000, 20000, 30000, 40000, 50000),
)

# (namespace, deployment name): the identity of a simulated workload and of its series.
Key = tuple[str, str]

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
_SUFFIXES = {
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "P": 1e15, "E": 1e18, "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40,
    "Pi": 2.0**50, "Ei": 2.0**60,
}  # fmt: skip


def parse_quantity(value: object) -> float:
    """A Kubernetes quantity (`90`, `"90"`, `"500m"`, `"1k"`, `"1e3"`) as a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and (match := _QUANTITY.match(value.strip())):
        mantissa, suffix = match.group(1), match.group(2) or ""
        scale = 10.0 ** int(suffix[1:]) if suffix[:1] in "eE" and suffix else _SUFFIXES[suffix]
        number = float(mantissa) * scale
    else:
        raise ValueError(f"not a quantity: {value!r}")
    if not math.isfinite(number):
        raise ValueError(f"not a finite quantity: {value!r}")
    return number


def parse_weight(value: object) -> float:
    """A TrafficSplit backend weight: an integer (v1alpha2+) or a quantity string (v1alpha1)."""
    weight = parse_quantity(value)
    if weight < 0:
        raise ValueError(f"negative weight: {value!r}")
    return weight


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text!r} is not a finite number")
    return number


def parse_rate(text: str) -> float:
    """Requests per second, at least 0."""
    rate = _finite(text)
    if rate < 0:
        raise ValueError(f"{text!r} is negative")
    return rate


def parse_error_rate(text: str) -> float:
    """The fraction of responses that fail, from 0 to 1."""
    fraction = _finite(text)
    if not 0 <= fraction <= 1:
        raise ValueError(f"{text!r} is not between 0 and 1")
    return fraction


def parse_latency_ms(text: str) -> float:
    """Mean latency in milliseconds, above 0."""
    latency = _finite(text)
    if latency <= 0:
        raise ValueError(f"{text!r} is not above 0")
    return latency


@dataclass
class _Annotations:
    """Numbers read from annotations; an unusable value is noted as a problem and not used."""

    values: Mapping[str, str]
    where: str
    problems: list[str] = field(default_factory=list)

    def optional(self, key: str, parse: Callable[[str], float]) -> float | None:
        if key not in self.values:
            return None
        try:
            return parse(str(self.values[key]))
        except ValueError as error:
            self.problems.append(f"{self.where}: annotation {key}: {error}; ignored")
            return None

    def number(self, key: str, parse: Callable[[str], float], default: float) -> float:
        value = self.optional(key, parse)
        return default if value is None else value


@dataclass(frozen=True)
class Behaviour:
    """How a version answers: the fraction of failures (status 500) and the mean latency."""

    error_rate: float = DEFAULT_ERROR_RATE
    latency_ms: float = DEFAULT_LATENCY_MS


@dataclass(frozen=True)
class Workload:
    """A Deployment, as far as traffic is concerned."""

    namespace: str
    name: str
    template_labels: Mapping[str, str]
    ready_replicas: int
    behaviour: Behaviour
    # `meshsim.canary.dev/rate` on the Deployment itself: traffic it gets without a TrafficSplit.
    direct_rate: float | None = None
    problems: tuple[str, ...] = ()

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Workload:
        meta = manifest.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        template = (manifest.get("spec") or {}).get("template") or {}
        template_meta = template.get("metadata") or {}
        where = f"Deployment {namespace}/{name}"
        pod = _Annotations(template_meta.get("annotations") or {}, where)
        behaviour = Behaviour(
            error_rate=pod.number(ERROR_RATE_ANNOTATION, parse_error_rate, DEFAULT_ERROR_RATE),
            latency_ms=pod.number(LATENCY_ANNOTATION, parse_latency_ms, DEFAULT_LATENCY_MS),
        )
        # The direct rate may be a label or an annotation of the Deployment itself.
        own = _Annotations(
            {**(meta.get("labels") or {}), **(meta.get("annotations") or {})},
            where,
            problems=pod.problems,
        )
        direct_rate = own.optional(RATE_ANNOTATION, parse_rate)
        return cls(
            namespace=namespace,
            name=name,
            template_labels=dict(template_meta.get("labels") or {}),
            ready_replicas=int((manifest.get("status") or {}).get("readyReplicas") or 0),
            behaviour=behaviour,
            direct_rate=direct_rate,
            problems=tuple(pod.problems),
        )


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    selector: Mapping[str, str]

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Service:
        meta = manifest.get("metadata") or {}
        return cls(
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            selector=dict((manifest.get("spec") or {}).get("selector") or {}),
        )


@dataclass(frozen=True)
class Backend:
    service: str
    weight: float
    namespace: str | None = None  # the Service's namespace, when not the route's own


@dataclass(frozen=True)
class Split:
    """A TrafficSplit, or one rule of an HTTPRoute: requests divided among Services by weight."""

    namespace: str
    name: str
    apex: str
    backends: tuple[Backend, ...]
    # `meshsim.canary.dev/rate` on the TrafficSplit: this apex Service's request rate.
    rate: float | None = None
    problems: tuple[str, ...] = ()
    # The part of that rate this split carries (an HTTPRoute's rules share the route's rate).
    share: float = 1.0
    # Services that receive a copy of this split's requests (HTTPRoute RequestMirror filters);
    # a mirror's `weight` is the fraction of requests copied, from 0 to 1.
    mirrors: tuple[Backend, ...] = ()

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any]) -> Split:
        meta = manifest.get("metadata") or {}
        spec = manifest.get("spec") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        annotations = _Annotations(
            meta.get("annotations") or {}, f"TrafficSplit {namespace}/{name}"
        )
        problems = annotations.problems
        backends = []
        for entry in spec.get("backends") or []:
            try:
                weight = parse_weight(entry.get("weight"))
            except ValueError as error:
                problems.append(
                    f"{annotations.where}: backend {entry.get('service')}: {error}; using 0"
                )
                weight = 0.0
            backends.append(Backend(service=str(entry.get("service", "")), weight=weight))
        rate = annotations.optional(RATE_ANNOTATION, parse_rate)
        return cls(
            namespace=namespace,
            name=name,
            apex=str(spec.get("service", "")),
            backends=tuple(backends),
            rate=rate,
            problems=tuple(problems),
        )


def parse_backend_ref_weight(value: object) -> float:
    """An HTTPRoute backendRef weight: an integer from 0 to 1,000,000 (absent means 1)."""
    if value is None:
        return 1.0
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1_000_000:
        return float(value)
    raise ValueError(f"not an integer weight from 0 to 1000000: {value!r}")


def splits_of_http_route(manifest: Mapping[str, Any]) -> list[Split]:
    """An HTTPRoute (gateway.networking.k8s.io) as one Split per rule that has backendRefs.

    Each rule divides its requests among the Services its backendRefs name, by weight (a missing
    weight is 1, as the Gateway API specifies); backendRefs to anything but a core Service are
    left out. The route's `meshsim.canary.dev/rate` (or the default rate) is shared equally among
    those rules, so a route receives the same rate whatever number of rules it has.
    """
    meta = manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    annotations = _Annotations(meta.get("annotations") or {}, f"HTTPRoute {namespace}/{name}")
    problems = annotations.problems
    rate = annotations.optional(RATE_ANNOTATION, parse_rate)
    rules: list[tuple[Backend, ...]] = []
    mirrors: list[tuple[Backend, ...]] = []
    for index, rule in enumerate(spec.get("rules") or []):
        backends = []
        for ref in rule.get("backendRefs") or []:
            if ref.get("group", "") != "" or ref.get("kind", "Service") != "Service":
                continue
            service = str(ref.get("name", ""))
            try:
                weight = parse_backend_ref_weight(ref.get("weight"))
            except ValueError as error:
                where = f"{annotations.where}: rule {index} backendRef {service}"
                problems.append(f"{where}: {error}; using 0")
                weight = 0.0
            other = ref.get("namespace")
            backends.append(Backend(service=service, weight=weight, namespace=other))
        if backends:
            rules.append(tuple(backends))
            mirrors.append(mirrors_of_rule(rule))
    return [
        Split(
            namespace=namespace,
            name=f"{name}/rule-{index}" if len(rules) > 1 else name,
            apex=name,
            backends=backends,
            rate=rate,
            share=1.0 / len(rules),
            mirrors=mirrors[index],
            # The route's problems, once: on its first rule.
            problems=tuple(problems) if index == 0 else (),
        )
        for index, backends in enumerate(rules)
    ]


def mirrors_of_rule(rule: Mapping[str, Any]) -> tuple[Backend, ...]:
    """The Services an HTTPRoute rule's RequestMirror filters copy requests to, each with the
    fraction copied (`percent`, or `fraction` numerator/denominator; all when neither)."""
    found = []
    for entry in rule.get("filters") or []:
        mirror = entry.get("requestMirror") or {}
        ref = mirror.get("backendRef") or {}
        if entry.get("type") != "RequestMirror" or not ref.get("name"):
            continue
        fraction = 1.0
        if isinstance(mirror.get("percent"), int):
            fraction = mirror["percent"] / 100
        elif isinstance(mirror.get("fraction"), dict):
            part = mirror["fraction"]
            fraction = float(part.get("numerator", 0)) / float(part.get("denominator") or 100)
        found.append(
            Backend(service=str(ref["name"]), weight=fraction, namespace=ref.get("namespace"))
        )
    return tuple(found)


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service selector picks pods carrying all its labels; an empty one picks nothing."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


@dataclass(frozen=True)
class Target:
    """What one Deployment receives: requests per second, and how it answers them."""

    rate: float
    behaviour: Behaviour


def plan(
    splits: Iterable[Split],
    services: Iterable[Service],
    workloads: Iterable[Workload],
    *,
    default_rate: float = DEFAULT_RATE,
) -> dict[Key, Target]:
    """The request rate of every Deployment that receives traffic.

    Each TrafficSplit (and HTTPRoute rule) sends its rate to its backends in proportion to their
    weights, and a copy of the mirrored fraction to each mirror; a backend Service's share goes
    to the ready pods its selector picks, so to the Deployments whose pod template it matches,
    in proportion to their ready replicas. A share
    with no ready pod to go to is dropped: the inbound proxies never see it. Deployments no
    route reaches get the rate annotated on them, if any.
    """
    by_service = {(s.namespace, s.name): s for s in services}
    all_workloads = list(workloads)
    rates: dict[Key, float] = {}
    routed: set[Key] = set()
    for split in splits:
        total = sum(b.weight for b in split.backends)
        rate = (split.rate if split.rate is not None else default_rate) * split.share
        if total <= 0:
            continue
        shares = [(b, rate * b.weight / total) for b in split.backends]
        shares += [(mirror, rate * mirror.weight) for mirror in split.mirrors]
        for backend, share in shares:
            service = by_service.get((backend.namespace or split.namespace, backend.service))
            if service is None:
                continue
            picked = [
                w
                for w in all_workloads
                if w.namespace == service.namespace and selects(service.selector, w.template_labels)
            ]
            routed.update(w.key for w in picked)
            ready = sum(w.ready_replicas for w in picked)
            for workload in picked:
                if workload.ready_replicas > 0 and share > 0:
                    portion = share * workload.ready_replicas / ready
                    rates[workload.key] = rates.get(workload.key, 0.0) + portion
    for workload in all_workloads:
        if workload.key not in routed and workload.direct_rate and workload.ready_replicas > 0:
            rates[workload.key] = workload.direct_rate
    behaviours = {w.key: w.behaviour for w in all_workloads}
    return {key: Target(rate, behaviours[key]) for key, rate in sorted(rates.items())}


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
    """The counts of one Deployment's inbound proxy, as Linkerd reports them."""

    successes: int = 0
    failures: int = 0
    # Per-bucket (not cumulative) counts; the last one is +Inf.
    buckets: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    latency_sum_ms: float = 0.0

    @property
    def count(self) -> int:
        return self.successes + self.failures

    def cumulative(self) -> list[tuple[str, int]]:
        """`(le, count)` pairs, cumulative, ending with `+Inf`."""
        bounds = [f"{b:g}" for b in LATENCY_BUCKETS_MS] + ["+Inf"]
        running, pairs = 0, []
        for bound, count in zip(bounds, self.buckets, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs


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

    @property
    def current_plan(self) -> Mapping[Key, Target]:
        return self._plan

    def set_plan(self, new_plan: Mapping[Key, Target], *, existing: Iterable[Key]) -> None:
        """Follow `new_plan` from now on; forget the counts of Deployments that no longer exist."""
        self._plan = dict(new_plan)
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
            for _ in range(requests):
                latency = source.rng.lognormvariate(mu, LATENCY_SIGMA)
                series.buckets[bisect.bisect_left(LATENCY_BUCKETS_MS, latency)] += 1
                series.latency_sum_ms += latency

    def series(self) -> dict[Key, Series]:
        """The counts of every Deployment that has answered at least one request."""
        return {k: s.series for k, s in sorted(self._sources.items()) if s.series is not None}
