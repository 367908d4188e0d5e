"""Linkerd's builtin queries: its proxies' `response_total` and `response_latency_ms` series.

Read by `linkerd`, `smi` and `smi:<anything>` (SMI TrafficSplits are how Linkerd splits traffic;
Flagger sends `smi:*` to its Istio observer, which finds nothing on a Linkerd mesh). The queries
are Flagger's (flagger.md §5.2); the latency histogram is in milliseconds already. Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.table import BuiltinTable, collapse

TABLE = BuiltinTable(
    mesh="linkerd",
    success_rate=collapse(
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
    duration=collapse(
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
    request_rate=collapse(
        """
        sum(
            rate(
                response_total{
                    namespace="{{ namespace }}",
                    deployment=~"{{ target }}",
                    direction="inbound"
                }[{{ interval }}]
            )
        )
        """
    ),
)
