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
- `kubernetes` and `gatewayapi[:version]` have no builtin metrics yet: a check of a builtin name
  fails with an `UnsupportedProvider` error telling the user to write a MetricTemplate. Any other
  provider is unknown and fails the same way; there is no silent fallback to another mesh.

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

# Mesh name -> builtin metric name -> query template.
BUILTIN_QUERIES: Mapping[str, Mapping[str, str]] = MappingProxyType({"linkerd": _LINKERD})

# Providers that route traffic but whose builtin metrics are not written yet.
_UNSUPPORTED_PROVIDERS = ("kubernetes", "gatewayapi")


def is_builtin(name: str) -> bool:
    return name in BUILTIN_NAMES


def mesh_of(provider: str) -> str:
    """The mesh whose proxy metrics the builtin checks of a Canary with `provider` read."""
    if provider in {"linkerd", "smi"} or provider.startswith("smi:"):
        return "linkerd"
    family = provider.split(":", 1)[0]
    if family in _UNSUPPORTED_PROVIDERS:
        raise MetricError(
            FailureKind.UNSUPPORTED_PROVIDER,
            f"provider {provider!r} has no builtin metrics yet; write a MetricTemplate"
            " and reference it with templateRef",
        )
    raise MetricError(
        FailureKind.UNSUPPORTED_PROVIDER,
        f"unknown provider {provider!r}; builtin metrics exist for linkerd, smi and smi:<version>",
    )


def builtin_query(name: str, *, provider: str) -> str:
    """The query template of the builtin metric `name` for a Canary with `provider`."""
    if not is_builtin(name):
        raise MetricError(
            FailureKind.NO_QUERY,
            f"{name!r} is not a builtin metric ({', '.join(sorted(BUILTIN_NAMES))}) and has"
            " no query or templateRef",
        )
    return BUILTIN_QUERIES[mesh_of(provider)][name]
