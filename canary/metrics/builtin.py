"""The builtin metrics (`request-success-rate`, `request-duration`): which queries a provider reads.

Flagger keeps these queries inside per-mesh observer classes; here they are data: one
`BuiltinTable` per mesh or ingress (`canary/metrics/meshes/`), and `TABLES`, which maps a
provider's family (its name up to the first `:`) to the table it reads. Adding a provider is one
table module and one line here.

Which mesh a Canary's `provider` reads (a decision of this project, not Flagger's):
- `linkerd`, `smi` and `smi:<anything>` read Linkerd's proxy metrics (`meshes/linkerd.py`).
- `kubernetes` and `gatewayapi[:version]` read the application's own histogram
  (`meshes/http.py`), with Flagger's queries for them.
- `nginx` reads ingress-nginx's series of the canary Ingress (`meshes/nginx.py`).
- `skipper` reads Skipper's per-route histograms of the canary Ingress (`meshes/skipper.py`).
- `istio` reads the Istio sidecars' `istio_requests_total` and request duration histogram
  (`meshes/istio.py`).
- Any other provider has no builtins and fails with an `UnsupportedProvider` error; there is no
  silent fallback to another mesh.

`request-success-rate` is a percentage; `request-duration` is the p99 latency in milliseconds.
This module must not render, query or judge anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType

from canary.metrics.errors import FailureKind, MetricError
from canary.metrics.inputs import CanaryContext
from canary.metrics.meshes import (
    apisix,
    contour,
    gloo,
    http,
    istio,
    knative,
    kuma,
    linkerd,
    nginx,
    skipper,
    traefik,
)
from canary.metrics.meshes.table import BuiltinTable

REQUEST_SUCCESS_RATE = "request-success-rate"
REQUEST_DURATION = "request-duration"
BUILTIN_NAMES = frozenset({REQUEST_SUCCESS_RATE, REQUEST_DURATION})

# Provider family (the name up to the first ":") -> the builtin queries it reads.
TABLES: Mapping[str, BuiltinTable] = MappingProxyType(
    {
        "linkerd": linkerd.TABLE,
        "smi": linkerd.TABLE,
        "kubernetes": http.TABLE,
        "gatewayapi": http.TABLE,
        "nginx": nginx.TABLE,
        "skipper": skipper.TABLE,
        "istio": istio.TABLE,
        "contour": contour.TABLE,
        "gloo": gloo.TABLE,
        "traefik": traefik.TABLE,
        "apisix": apisix.TABLE,
        "knative": knative.TABLE,
        "kuma": kuma.TABLE,
    }
)


def is_builtin(name: str) -> bool:
    return name in BUILTIN_NAMES


def table_of(provider: str, *, target_kind: str = "Deployment") -> BuiltinTable:
    """The builtin queries a Canary with `provider` (and a target of `target_kind`) reads."""
    table = TABLES.get(provider.split(":", 1)[0])
    if table is None:
        families = ", ".join(f"{family}[:...]" for family in TABLES)
        raise MetricError(
            FailureKind.UNSUPPORTED_PROVIDER,
            f"unknown provider {provider!r}; builtin metrics exist for {families}",
        )
    if target_kind == "DaemonSet" and table.daemon_set is not None:
        return table.daemon_set
    return table


def builtin_context(context: CanaryContext) -> CanaryContext:
    """The names the builtin queries of the context's provider see: its table's `encode`
    applied to each (the context as it is for most providers)."""
    encode = table_of(context.provider, target_kind=context.target_kind).encode
    if encode is None:
        return context
    return replace(
        context,
        name=encode(context.name),
        namespace=encode(context.namespace),
        target=encode(context.target),
        service=encode(context.service_name),
        ingress=encode(context.ingress_name),
        route=encode(context.route_name),
    )


def mesh_of(provider: str) -> str:
    """The mesh whose metrics the builtin checks of a Canary with `provider` read."""
    return table_of(provider).mesh


def builtin_query(name: str, *, provider: str, target_kind: str = "Deployment") -> str:
    """The query template of the builtin metric `name` for a Canary with `provider` (and a
    target of `target_kind`, whose pods may be named differently when it is a DaemonSet)."""
    if not is_builtin(name):
        raise MetricError(
            FailureKind.NO_QUERY,
            f"{name!r} is not a builtin metric ({', '.join(sorted(BUILTIN_NAMES))}) and has"
            " no query or templateRef",
        )
    table = table_of(provider, target_kind=target_kind)
    return table.success_rate if name == REQUEST_SUCCESS_RATE else table.duration


def builtin_scale(name: str, *, provider: str) -> float:
    """The factor that turns the value of the builtin `name`'s query into its unit (percent,
    milliseconds): 1000 for a `request-duration` read from a histogram in seconds."""
    if name != REQUEST_DURATION:
        return 1.0
    return table_of(provider).duration_scale
