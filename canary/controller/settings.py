"""The controller's settings, from command-line flags with environment variables as defaults."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from canary.core.election import Timing
from canary.routers.settings import DEFAULT_INGRESS_ANNOTATIONS_PREFIX, ControllerRouting


@dataclass(frozen=True)
class Settings:
    kubeconfig: Path | None
    prometheus_url: str
    provider: str
    namespaces: tuple[str, ...]  # empty: every namespace
    log_format: str
    log_level: str
    listen: str  # host:port of /healthz, /readyz and /metrics; empty disables them
    min_interval: float  # analysis intervals below this are raised to it
    max_parallel: int  # reconcile cycles running at once
    max_progressing: int  # canaries analysing at once, cluster-wide; 0 for no limit
    prometheus_timeout: float
    cluster_name: str = ""  # named in alerts, so a message says which cluster it is about
    # Seconds a reconcile cycle may take for its own work, beyond its webhooks' worst case
    # (canary.controller.deadline); a cycle that overruns is cut short and retried.
    cycle_timeout: float = 60.0
    # Prefixes of the target's labels the primary Deployment gets ("*": all; Flagger's
    # -include-label-prefix, whose default also copies none).
    include_label_prefixes: tuple[str, ...] = ()
    # Leader election (off: this process acts alone); see canary.controller.leader.
    leader_elect: bool = False
    leader_election_namespace: str = "default"
    leader_election_id: str = "canary-controller"  # the Lease's name
    # Sharding: only the Canaries whose labels match this selector (all when empty).
    watch_label_selector: str = ""
    leader_election_timing: Timing = field(default_factory=Timing)
    # Flagger's -ingress-annotations-prefix (nginx) and -ingress-class (Contour).
    routing: ControllerRouting = field(default_factory=ControllerRouting)


DEFAULT_LEASE = "canary-controller"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    kubeconfig = env("KUBECONFIG")
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=Path(kubeconfig) if kubeconfig else None,
        help="kubeconfig file (env KUBECONFIG); in-cluster config when unset",
    )
    parser.add_argument(
        "--prometheus-url",
        default=env("CANARY_PROMETHEUS_URL", "http://prometheus.monitoring:9090"),
        help="Prometheus for the builtin metrics (env CANARY_PROMETHEUS_URL; default %(default)s)",
    )
    parser.add_argument(
        "--provider",
        default=env("CANARY_PROVIDER", "linkerd"),
        help="traffic provider for Canaries that set none (env CANARY_PROVIDER; %(default)s)",
    )
    parser.add_argument(
        "--namespaces",
        default=env("CANARY_NAMESPACES", ""),
        help="comma-separated namespaces to watch (env CANARY_NAMESPACES; default: all)",
    )
    parser.add_argument(
        "--watch-label-selector",
        default=env("CANARY_WATCH_LABEL_SELECTOR", ""),
        help="release only the Canaries whose labels match this selector, e.g. "
        "'sharding.canary.dev/key in (shard1)', so several controllers (shards) split the "
        "Canaries of one cluster; each shard holds its own Lease (env "
        "CANARY_WATCH_LABEL_SELECTOR; default: every Canary)",
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        default=env("CANARY_LOG_FORMAT", "auto"),
        help="json in a cluster, console in a terminal (env CANARY_LOG_FORMAT; default auto)",
    )
    parser.add_argument("--log-level", default=env("CANARY_LOG_LEVEL", "info"))
    parser.add_argument(
        "--listen",
        default=env("CANARY_LISTEN", "0.0.0.0:8080"),
        help="address of /healthz, /readyz and /metrics; empty to disable (default %(default)s)",
    )
    parser.add_argument(
        "--min-interval",
        type=float,
        default=float(env("CANARY_MIN_INTERVAL", "10")),
        help="seconds; shorter analysis intervals are raised to this (tests lower it to 1)",
    )
    parser.add_argument(
        "--max-parallel",
        type=int,
        default=int(env("CANARY_MAX_PARALLEL", "32")),
        help="reconcile cycles working against the Kubernetes API at once (default %(default)s; "
        "with 8, 100 Canaries changed together were detected over 9 s instead of 3 s: "
        "bench/README.md)",
    )
    parser.add_argument(
        "--max-progressing",
        type=int,
        default=int(env("CANARY_MAX_PROGRESSING", "10")),
        help="new releases wait (phase Waiting) while this many are under way; 0: no limit",
    )
    parser.add_argument(
        "--prometheus-timeout", type=float, default=float(env("CANARY_PROMETHEUS_TIMEOUT", "10"))
    )
    parser.add_argument(
        "--cycle-timeout",
        type=float,
        default=float(env("CANARY_CYCLE_TIMEOUT", "60")),
        help="seconds a reconcile cycle may take beyond its webhooks' timeouts and retries; "
        "one that overruns is cut short and retried (env CANARY_CYCLE_TIMEOUT; %(default)g)",
    )
    parser.add_argument(
        "--cluster-name",
        default=env("CANARY_CLUSTER_NAME", ""),
        help="the cluster's name in alerts (env CANARY_CLUSTER_NAME)",
    )
    parser.add_argument(
        "--include-label-prefix",
        default=env("CANARY_INCLUDE_LABEL_PREFIX", ""),
        help="comma-separated prefixes of the target's labels copied to the primary Deployment, "
        "'*' for all (Flagger's -include-label-prefix; env CANARY_INCLUDE_LABEL_PREFIX; "
        "default: none)",
    )
    parser.add_argument(
        "--ingress-annotations-prefix",
        default=env("CANARY_INGRESS_ANNOTATIONS_PREFIX", DEFAULT_INGRESS_ANNOTATIONS_PREFIX),
        help="prefix of ingress-nginx's canary annotations, its --annotations-prefix "
        "(Flagger's -ingress-annotations-prefix; env CANARY_INGRESS_ANNOTATIONS_PREFIX; "
        "default %(default)s)",
    )
    parser.add_argument(
        "--ingress-class",
        default=env("CANARY_INGRESS_CLASS", ""),
        help="the class of Contour that serves the HTTPProxies of provider contour "
        "(annotation projectcontour.io/ingress.class and spec.ingressClassName; Flagger's "
        "-ingress-class; env CANARY_INGRESS_CLASS; default: none, any Contour serves them)",
    )
    _add_leader_election(parser)


def _add_leader_election(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    group = parser.add_argument_group("leader election (docs/architecture.md)")
    group.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=env("CANARY_LEADER_ELECT", "").lower() in {"1", "true", "yes"},
        help="act only while holding a Lease, so several replicas can run (env "
        "CANARY_LEADER_ELECT; default off: this process acts alone)",
    )
    group.add_argument(
        "--leader-election-namespace",
        default=env("CANARY_LEADER_ELECTION_NAMESPACE") or env("POD_NAMESPACE") or "default",
        help="namespace of the Lease (env CANARY_LEADER_ELECTION_NAMESPACE, else POD_NAMESPACE, "
        "else 'default'; here %(default)s)",
    )
    group.add_argument(
        "--leader-election-id",
        default=env("CANARY_LEADER_ELECTION_ID", ""),
        help="name of the Lease (env CANARY_LEADER_ELECTION_ID; default canary-controller, "
        "or with --watch-label-selector canary-controller-<hash of the selector>, so that "
        "each shard holds its own)",
    )
    for flag, default, what in (
        ("lease-duration", Timing.lease_duration, "how long a lease lasts unrenewed"),
        ("renew-deadline", Timing.renew_deadline, "the leader stops acting if it cannot renew"),
        ("retry-period", Timing.retry_period, "how often to try to renew or acquire"),
    ):
        variable = "CANARY_LEADER_ELECTION_" + flag.upper().replace("-", "_")
        group.add_argument(
            f"--leader-election-{flag}",
            type=float,
            default=float(env(variable, str(default))),
            metavar="SECONDS",
            help=f"{what} (env {variable}; default %(default)g)",
        )


def from_arguments(args: argparse.Namespace) -> Settings:
    return Settings(
        kubeconfig=args.kubeconfig,
        prometheus_url=args.prometheus_url,
        provider=args.provider,
        namespaces=tuple(n.strip() for n in args.namespaces.split(",") if n.strip()),
        log_format=args.log_format,
        log_level=args.log_level,
        listen=args.listen,
        min_interval=args.min_interval,
        max_parallel=args.max_parallel,
        max_progressing=args.max_progressing,
        prometheus_timeout=args.prometheus_timeout,
        cluster_name=args.cluster_name,
        cycle_timeout=args.cycle_timeout,
        include_label_prefixes=tuple(
            p.strip() for p in args.include_label_prefix.split(",") if p.strip()
        ),
        leader_elect=args.leader_elect,
        leader_election_namespace=args.leader_election_namespace,
        leader_election_id=args.leader_election_id or lease_name(args.watch_label_selector.strip()),
        watch_label_selector=args.watch_label_selector.strip(),
        leader_election_timing=_timing(args),
        routing=_routing(args),
    )


# An annotation key's prefix and an IngressClass name: DNS subdomains (lowercase).
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _routing(args: argparse.Namespace) -> ControllerRouting:
    prefix, ingress_class = args.ingress_annotations_prefix.strip(), args.ingress_class.strip()
    for flag, value, empty in (
        ("--ingress-annotations-prefix", prefix, False),
        ("--ingress-class", ingress_class, True),
    ):
        if (value or not empty) and (len(value) > 253 or not _SUBDOMAIN.match(value)):
            raise SystemExit(
                f"canary run: error: {flag} {value!r} is not a DNS subdomain (lowercase letters, "
                "digits, '-' and '.'; e.g. nginx.ingress.kubernetes.io)"
            )
    return ControllerRouting(ingress_annotations_prefix=prefix, ingress_class=ingress_class)


def lease_name(selector: str) -> str:
    """The default Lease of the shard that watches `selector` (`canary-controller` for all):
    shards with different selectors never contend for one Lease."""
    if not selector:
        return DEFAULT_LEASE
    return f"{DEFAULT_LEASE}-{hashlib.sha256(selector.encode()).hexdigest()[:10]}"


def _timing(args: argparse.Namespace) -> Timing:
    try:
        return Timing(
            lease_duration=args.leader_election_lease_duration,
            renew_deadline=args.leader_election_renew_deadline,
            retry_period=args.leader_election_retry_period,
        )
    except ValueError as error:
        raise SystemExit(f"canary run: error: {error}") from None
