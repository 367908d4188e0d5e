"""Knative's builtin queries: the Envoy series of the Knative ingress (Kourier), per Revision.

Flagger's Knative observer reads `envoy_cluster_upstream_rq` (by `envoy_response_code`) and
`envoy_cluster_upstream_rq_time_bucket` (milliseconds) of the Envoy cluster
`<namespace>/<revision>` that Kourier keeps for each Revision. `{{ route }}` is the Revision
under analysis for a Knative target (see `canary.controller.convert.context_of`), so only the
canary's requests are judged. Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.table import BuiltinTable, collapse

_CLUSTER = 'envoy_cluster_name=~"{{ namespace }}/{{ route }}"'

TABLE = BuiltinTable(
    mesh="knative",
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
                    {_CLUSTER},
                }}[{{{{ interval }}}}]
            )
        )
        """
    ),
)
