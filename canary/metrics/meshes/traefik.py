"""Traefik's builtin queries: its `traefik_service_request_duration_seconds` histogram.

Read by `traefik`. The queries are Flagger's (its Traefik observer): the series of the canary
Service as Traefik's Kubernetes CRD provider names it, `<namespace>-<service>-<port>@kubernetescrd`
(a TraefikService's weighted entry `podinfo-canary` on port 80 in `test` is
`test-podinfo-canary-80@kubernetescrd`), selected as `{{ namespace }}-{{ target }}-canary-...`,
so the apex Service must be named after the target, as Flagger assumes too. The success rate
counts the histogram's `+Inf` bucket by HTTP `code`; the p99 is in seconds, and the query turns
it into milliseconds (`* 1000`). Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.table import BuiltinTable, collapse

# The canary Service's series, whatever its port.
_CANARY_SERVICE = 'service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"'

TABLE = BuiltinTable(
    mesh="traefik",
    success_rate=collapse(
        f"""
        sum(
            rate(
                traefik_service_request_duration_seconds_bucket{{
                    {_CANARY_SERVICE},
                    code!~"5..",
                    le="+Inf"
                }}[{{{{ interval }}}}]
            )
        )
        /
        sum(
            rate(
                traefik_service_request_duration_seconds_bucket{{
                    {_CANARY_SERVICE},
                    le="+Inf"
                }}[{{{{ interval }}}}]
            )
        ) * 100
        """
    ),
    duration=collapse(
        f"""
        histogram_quantile(
            0.99,
            sum(
                rate(
                    traefik_service_request_duration_seconds_bucket{{
                        {_CANARY_SERVICE}
                    }}[{{{{ interval }}}}]
                )
            ) by (le)
        ) * 1000
        """
    ),
    request_rate=collapse(
        f"""
        sum(
            rate(
                traefik_service_requests_total{{
                    {_CANARY_SERVICE}
                }}[{{{{ interval }}}}]
            )
        )
        """
    ),
)
