"""The builtin metrics (`request-success-rate`, `request-duration`) as PromQL templates per mesh.

Flagger keeps these queries inside per-mesh observer classes; here they are data: a table from
mesh to metric name to query template, rendered by template.py like any MetricTemplate. Queries
are stored with whitespace collapsed, as Flagger sends them (flagger.md §5.2), without Flagger's
leading space.

Which mesh a Canary's `provider` reads (a decision of this project, not Flagger's):
- `linkerd`, `smi` and `smi:<anything>` (for example `smi:v1alpha3`) read Linkerd's proxy metrics
  (`response_total`, `response_latency_ms_bucket`). SMI TrafficSplits are how Linkerd splits
  traffic, and the sandbox's mesh simulator exports exactly these metrics. (Flagger sends
  `smi:*` to its Istio observer, which finds nothing on a Linkerd mesh.)
- `kubernetes` and `gatewayapi[:version]` read the application's own `http_request_duration_seconds`
  histogram, with Flagger's queries for them (its `HttpObserver`): the series of the target's pods,
  selected by the `kubernetes_namespace` and `kubernetes_pod_name` labels that Prometheus's pod
  discovery adds (`{{ target }}-<replicaset hash>-<pod hash>`, so not the primary's pods). That
  histogram is in seconds; Flagger converts its p99 to milliseconds after the query, and so does
  `duration_scale` here, so that `request-duration` is in milliseconds for every provider.
- Any other provider is unknown and fails with an `UnsupportedProvider` error; there is no silent
  fallback to another mesh.

`request-success-rate` is a percentage; `request-duration` is the p99 latency in milliseconds.
This module must not render, query or judge anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from canary.metrics.errors import FailureKind, MetricError

REQUEST_SUCCESS_RATE = "request-success-rate"
REQUEST_DURATION = "request-duration"
BUILTIN_NAMES = frozenset({REQUEST_SUCCESS_RATE, REQUEST_DURATION})


def _collapse(query: str) -> str:
    return re.sub(r"\s+", " ", query).strip()


_LINKERD = MappingProxyType(
    {
        REQUEST_SUCCESS_RATE: _collapse(
            """
            sum(
                rate(
                    response_total{
                        namespace="{{ namespace }}",
                        deployment=~"{{ target }}",
                        classification!="failure",
                        direction="inbound"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    response_total{
                        namespace="{{ namespace }}",
                        deployment=~"{{ target }}",
                        direction="inbound"
                    }[{{ interval }}]
                )
            )
            * 100
            """
        ),
        REQUEST_DURATION: _collapse(
            """
            histogram_quantile(
                0.99,
                sum(
                    rate(
                        response_latency_ms_bucket{
                            namespace="{{ namespace }}",
                            deployment=~"{{ target }}",
                            direction="inbound"
                        }[{{ interval }}]
                    )
                ) by (le)
            )
            """
        ),
    }
)

# The target's pods (`<target>-<replicaset hash>-<pod hash>`) in the labels Prometheus's pod
# discovery gives the application's own series (Flagger's `kubernetes-pods` scrape job).
_TARGET_PODS = (
    'kubernetes_namespace="{{ namespace }}", '
    'kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"'
)
# A DaemonSet's pods are `<target>-<5 characters>` (no ReplicaSet hash). Flagger's pattern above
# would miss them and match the primary's instead (`<target>-primary-<5>`): the 5 characters are
# those Kubernetes generates names from, so neither the primary's pods nor another workload's
# `<target>-<word>-...` match.
_DAEMON_SET_PODS = (
    'kubernetes_namespace="{{ namespace }}", '
    'kubernetes_pod_name=~"{{ target }}-[bcdfghjklmnpqrstvwxz2456789]{5}"'
)


def _http(pods: str) -> Mapping[str, str]:
    """The builtin queries of the application's own histogram, for the pods `pods` selects."""
    return MappingProxyType(
        {
            REQUEST_SUCCESS_RATE: _collapse(
                f"""
            sum(
                rate(
                    http_request_duration_seconds_count{{
                        {pods},
                        status!~"5.*"
                    }}[{{{{ interval }}}}]
                )
            )
            /
            sum(
                rate(
                    http_request_duration_seconds_count{{
                        {pods}
                    }}[{{{{ interval }}}}]
                )
            )
            * 100
            """
            ),
            REQUEST_DURATION: _collapse(
                f"""
            histogram_quantile(
                0.99,
                sum(
                    rate(
                        http_request_duration_seconds_bucket{{
                            {pods}
                        }}[{{{{ interval }}}}]
                    )
                ) by (le)
            )
            """
            ),
        }
    )


_HTTP = _http(_TARGET_PODS)
_HTTP_DAEMON_SET = _http(_DAEMON_SET_PODS)

# Mesh name -> builtin metric name -> query template. "http" is the application's own
# histogram, read for the providers that have no mesh proxies (kubernetes, gatewayapi:*).
BUILTIN_QUERIES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"linkerd": _LINKERD, "http": _HTTP}
)

# Mesh name -> the factor from the value of its `request-duration` query to milliseconds.
_DURATION_SCALE: Mapping[str, float] = MappingProxyType({"linkerd": 1.0, "http": 1000.0})

# Providers that read the application's own histogram.
_HTTP_PROVIDERS = ("kubernetes", "gatewayapi")


def is_builtin(name: str) -> bool:
    return name in BUILTIN_NAMES


def mesh_of(provider: str) -> str:
    """The mesh whose proxy metrics the builtin checks of a Canary with `provider` read."""
    if provider in {"linkerd", "smi"} or provider.startswith("smi:"):
        return "linkerd"
    if provider.split(":", 1)[0] in _HTTP_PROVIDERS:
        return "http"
    raise MetricError(
        FailureKind.UNSUPPORTED_PROVIDER,
        f"unknown provider {provider!r}; builtin metrics exist for linkerd, smi:<version>,"
        " kubernetes and gatewayapi:<version>",
    )


def builtin_query(name: str, *, provider: str, target_kind: str = "Deployment") -> str:
    """The query template of the builtin metric `name` for a Canary with `provider` (and a
    target of `target_kind`, whose pods are named differently when it is a DaemonSet)."""
    if not is_builtin(name):
        raise MetricError(
            FailureKind.NO_QUERY,
            f"{name!r} is not a builtin metric ({', '.join(sorted(BUILTIN_NAMES))}) and has"
            " no query or templateRef",
        )
    mesh = mesh_of(provider)
    if mesh == "http" and target_kind == "DaemonSet":
        return _HTTP_DAEMON_SET[name]
    return BUILTIN_QUERIES[mesh][name]


def builtin_scale(name: str, *, provider: str) -> float:
    """The factor that turns the value of the builtin `name`'s query into its unit (percent,
    milliseconds): 1000 for a `request-duration` read from a histogram in seconds."""
    if name != REQUEST_DURATION:
        return 1.0
    return _DURATION_SCALE[mesh_of(provider)]
