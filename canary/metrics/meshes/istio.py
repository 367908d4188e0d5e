"""Istio's builtin queries: the sidecars' `istio_requests_total` and
`istio_request_duration_milliseconds` series, as the destination reports them.

Read by `istio`. The queries are Flagger's (`pkg/metrics/observers/istio.go`, flagger.md §5.2):
requests the target's workload received (`reporter="destination"`, selected by
`destination_workload_namespace` and `destination_workload`), a 5xx `response_code` counting as
a failure; the latency histogram is in milliseconds already. Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.table import BuiltinTable, collapse

TABLE = BuiltinTable(
    mesh="istio",
    success_rate=collapse(
        """
            sum(
                rate(
                    istio_requests_total{
                        reporter="destination",
                        destination_workload_namespace="{{ namespace }}",
                        destination_workload=~"{{ target }}",
                        response_code!~"5.*"
                    }[{{ interval }}]
                )
            )
            /
            sum(
                rate(
                    istio_requests_total{
                        reporter="destination",
                        destination_workload_namespace="{{ namespace }}",
                        destination_workload=~"{{ target }}"
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
                        istio_request_duration_milliseconds_bucket{
                            reporter="destination",
                            destination_workload_namespace="{{ namespace }}",
                            destination_workload=~"{{ target }}"
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
                istio_requests_total{
                    reporter="destination",
                    destination_workload_namespace="{{ namespace }}",
                    destination_workload=~"{{ target }}"
                }[{{ interval }}]
            )
        )
        """
    ),
)
