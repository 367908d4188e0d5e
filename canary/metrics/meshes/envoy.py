"""The builtin queries of the Envoy-based providers: one shape, each provider its cluster label.

Contour, Gloo, Kuma and Knative (through Kourier) all read Envoy's `envoy_cluster_upstream_rq`
counter (by `envoy_response_code`) and `envoy_cluster_upstream_rq_time` histogram (milliseconds)
of the canary's upstream cluster; they differ only in the label matcher that picks that cluster
(`envoy_cluster_name` or Kuma's `service`), which each provider's module gives. The queries are
Flagger's, character for character once whitespace is collapsed (its stray commas before `}`
included: PromQL accepts them). The primary's cluster, which the views show beside the canary's,
is picked the same way (`<apex>-primary` for `<apex>-canary`). Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.table import BuiltinTable, collapse


def envoy_table(mesh: str, selector: str, *, primary: str = "") -> BuiltinTable:
    """The builtin queries of an Envoy-based mesh or ingress, for the canary's upstream cluster
    series that `selector` (a label matcher) picks; with `primary`, the matcher of the
    primary's cluster, the same queries for the primary (`BuiltinTable.primary`)."""
    return BuiltinTable(
        mesh=mesh,
        primary=envoy_table(mesh, primary) if primary else None,
        success_rate=collapse(
            f"""
                sum(
                    rate(
                        envoy_cluster_upstream_rq{{
                            {selector},
                            envoy_response_code!~"5.*"
                        }}[{{{{ interval }}}}]
                    )
                )
                /
                sum(
                    rate(
                        envoy_cluster_upstream_rq{{
                            {selector},
                        }}[{{{{ interval }}}}]
                    )
                )
                * 100
                """
        ),
        duration=collapse(
            f"""
                histogram_quantile(
                    0.99,
                    sum(
                        rate(
                            envoy_cluster_upstream_rq_time_bucket{{
                                {selector},
                            }}[{{{{ interval }}}}]
                        )
                    ) by (le)
                )
                """
        ),
        request_rate=collapse(
            f"""
            sum(
                rate(
                    envoy_cluster_upstream_rq{{
                        {selector}
                    }}[{{{{ interval }}}}]
                )
            )
            """
        ),
    )
