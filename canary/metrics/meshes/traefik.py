"""Traefik's builtin queries: its `traefik_service_request_duration_seconds` histogram.

Read by `traefik`. The queries are Flagger's (its Traefik observer): the series of the canary
Service as Traefik's Kubernetes CRD provider names it, `<namespace>-<service>-<port>@kubernetescrd`
(a TraefikService's weighted entry `podinfo-canary` on port 80 in `test` is
`test-podinfo-canary-80@kubernetescrd`), selected as `{{ namespace }}-{{ target }}-canary-...`,
so the apex Service must be named after the target, as Flagger assumes too. The success rate
counts the histogram's `+Inf` bucket by HTTP `code`; the p99 is in seconds, and the query turns
it into milliseconds (`* 1000`). The views show the primary Service's series beside them
(`<namespace>-<target>-primary-<port>@kubernetescrd`). Data only.
"""

from __future__ import annotations

from dataclasses import replace

from canary.metrics.meshes.table import BuiltinTable, collapse

# The canary Service's series, whatever its port.
_CANARY_SERVICE = 'service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"'
_PRIMARY_SERVICE = 'service=~"{{ namespace }}-{{ target }}-primary-[0-9a-zA-Z-]+@kubernetescrd"'


def _table(service: str) -> BuiltinTable:
    """The queries of the Traefik service that `service` (a label matcher) selects."""
    return BuiltinTable(
        mesh="traefik",
        success_rate=collapse(
            f"""
            sum(
                rate(
                    traefik_service_request_duration_seconds_bucket{{
                        {service},
                        code!~"5..",
                        le="+Inf"
                    }}[{{{{ interval }}}}]
                )
            )
            /
            sum(
                rate(
                    traefik_service_request_duration_seconds_bucket{{
                        {service},
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
                            {service}
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
                        {service}
                    }}[{{{{ interval }}}}]
                )
            )
            """
        ),
    )


TABLE = replace(_table(_CANARY_SERVICE), primary=_table(_PRIMARY_SERVICE))
