"""Kuma's builtin queries: its dataplanes' Envoy series, by the canary's `kuma.io/service` tag.

Flagger's Kuma observer reads `envoy_cluster_upstream_rq` (by `envoy_response_code`) and
`envoy_cluster_upstream_rq_time_bucket` (milliseconds), labelled `service` with the
`kuma.io/service` tag of the dataplane that reports them: `<target>-canary_<namespace>_svc_<port>`
for the canary's pods (the apex being the target's name, as Flagger assumes). Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.table import BuiltinTable, collapse

_SERVICE = 'service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"'

TABLE = BuiltinTable(
    mesh="kuma",
    success_rate=collapse(
        f"""
        sum(
            rate(
                envoy_cluster_upstream_rq{{
                    {_SERVICE},
                    envoy_response_code!~"5.*"
                }}[{{{{ interval }}}}]
            )
        )
        /
        sum(
            rate(
                envoy_cluster_upstream_rq{{
                    {_SERVICE},
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
                        {_SERVICE},
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
                    {_SERVICE},
                }}[{{{{ interval }}}}]
            )
        )
        """
    ),
)
