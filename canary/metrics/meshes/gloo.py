"""Gloo Edge's builtin queries: its Envoy's `envoy_cluster_upstream_rq` counter and
`envoy_cluster_upstream_rq_time` histogram (milliseconds), per upstream cluster.

Gloo names the Envoy cluster of an Upstream `<upstream>_<upstream namespace>`, and the canary's
Upstream is `<namespace>-<apex>-canaryupstream-<port>`. Flagger's observer matches
`{{ namespace }}-{{ target }}-canaryupstream-...`, which misses the Upstream when `service.name`
differs from the target's name (its router names Upstreams after the apex Service); these
queries use `{{ service }}`, the apex Service's name, and are otherwise Flagger's, character for
character once whitespace is collapsed. Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.table import BuiltinTable, collapse

_CLUSTER = (
    'envoy_cluster_name=~"{{ namespace }}-{{ service }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"'
)

TABLE = BuiltinTable(
    mesh="gloo",
    success_rate=collapse(
        f"""
            sum(
                rate(
                    envoy_cluster_upstream_rq{{
                        {_CLUSTER},
                        envoy_response_code!~"5.*"
                    }}[{{{{ interval }}}}]
                )
            )
            /
            sum(
                rate(
                    envoy_cluster_upstream_rq{{
                        {_CLUSTER},
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
                            {_CLUSTER},
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
                    {_CLUSTER}
                }}[{{{{ interval }}}}]
            )
        )
        """
    ),
)
