"""The mesh simulator's reading of the cluster: Deployments, Services, TrafficSplits and
HTTPRoutes (as plain manifests) turned into the plain values `meshsim_model.plan` works on, with
the `meshsim.canary.dev/` annotations that set request rates, error rates and latencies. A value
that cannot be used is reported as a problem and left out, never guessed. No I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from canary.routers.quantity import parse_quantity as exact_quantity

ANNOTATION_PREFIX = "meshsim.canary.dev/"
RATE_ANNOTATION = ANNOTATION_PREFIX + "rate"
ERROR_RATE_ANNOTATION = ANNOTATION_PREFIX + "error-rate"
LATENCY_ANNOTATION = ANNOTATION_PREFIX + "latency-ms"

DEFAULT_RATE = 20.0
DEFAULT_ERROR_RATE = 0.0
DEFAULT_LATENCY_MS = 20.0
# (namespace, deployment name): the identity of a simulated workload and of its series.
Key = tuple[str, str]


def parse_quantity(value: object) -> float:
    """A Kubernetes quantity (`90`, `"90"`, `"500m"`, `"1k"`, `"1e3"`) as a finite number."""
    try:
        number = float(exact_quantity(value)) if isinstance(value, str | int | float) else math.nan
    except ValueError:
        number = math.nan
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


def route_rate(meta: Mapping[str, Any], where: str, problems: list[str]) -> float | None:
    """The `meshsim.canary.dev/rate` annotated on a route object (`meta` is its metadata), None
    when absent; an unusable value is added to `problems` (naming `where`) and not used."""
    annotations = _Annotations(meta.get("annotations") or {}, where, problems)
    return annotations.optional(RATE_ANNOTATION, parse_rate)


@dataclass(frozen=True)
class Behaviour:
    """How a version answers: the fraction of failures (status 500) and the mean latency."""

    error_rate: float = DEFAULT_ERROR_RATE
    latency_ms: float = DEFAULT_LATENCY_MS


@dataclass(frozen=True)
class Workload:
    """A Deployment or DaemonSet, as far as traffic is concerned."""

    namespace: str
    name: str
    template_labels: Mapping[str, str]
    ready_replicas: int
    behaviour: Behaviour
    # `meshsim.canary.dev/rate` on the Deployment itself: traffic it gets without a TrafficSplit.
    direct_rate: float | None = None
    problems: tuple[str, ...] = ()
    daemon_set: bool = False

    @property
    def key(self) -> Key:
        return (self.namespace, self.name)

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], *, daemon_set: bool = False) -> Workload:
        """A listed Deployment, or DaemonSet (`daemon_set`: list items carry no kind)."""
        meta = manifest.get("metadata") or {}
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        template = (manifest.get("spec") or {}).get("template") or {}
        template_meta = template.get("metadata") or {}
        where = f"{'DaemonSet' if daemon_set else 'Deployment'} {namespace}/{name}"
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
        status = manifest.get("status") or {}
        return cls(
            namespace=namespace,
            name=name,
            template_labels=dict(template_meta.get("labels") or {}),
            ready_replicas=int(status.get("numberReady" if daemon_set else "readyReplicas") or 0),
            behaviour=behaviour,
            direct_rate=direct_rate,
            problems=tuple(pod.problems),
            daemon_set=daemon_set,
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
    port: int | str | None = None  # the Service port the route names, when it names one


@dataclass(frozen=True)
class Split:
    """A TrafficSplit, one rule of an HTTPRoute, or any provider's route object as its exporter
    reads it: requests divided among Services by weight. `kind` and `route` name the object it
    was read from (`route`: its name; `name` may add the rule)."""

    namespace: str
    name: str
    apex: str
    backends: tuple[Backend, ...]
    kind: str = "TrafficSplit"
    # `meshsim.canary.dev/rate` on the TrafficSplit: this apex Service's request rate.
    rate: float | None = None
    problems: tuple[str, ...] = ()
    # The part of that rate this split carries (an HTTPRoute's rules share the route's rate).
    share: float = 1.0
    # Services that receive a copy of this split's requests (HTTPRoute RequestMirror filters);
    # a mirror's `weight` is the fraction of requests copied, from 0 to 1.
    mirrors: tuple[Backend, ...] = ()
    route: str = ""  # the route object's name; `name` when empty

    @property
    def apex_route(self) -> str:
        """The name of the object this split was read from."""
        return self.route or self.name

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
            route=name,
            kind="HTTPRoute",
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
