"""ingress-nginx's builtin queries: the controller's `nginx_ingress_controller_*` series.

Read by `nginx`, with Flagger's queries for it (its NGINX observer: the `canary` label since
Flagger 1.15, the response-duration histogram since fluxcd/flagger#1686): the requests of the
user's Ingress (`{{ ingress }}`, the name in `spec.ingressRef`) that ingress-nginx served
through the canary Ingress (`canary!=""`: the `canary` label names the canary's upstream, empty
for requests the main Ingress served).
`request-duration` is the mean response time (sum over count), multiplied by 1000 in the query:
milliseconds already, as Flagger reads it. The views show the primary's requests beside them:
those the main Ingress served itself (`canary=""`). Data only.
"""

from __future__ import annotations

from dataclasses import replace

from canary.metrics.meshes.table import BuiltinTable, collapse

_CANARY_REQUESTS = 'namespace="{{ namespace }}", ingress="{{ ingress }}", canary!=""'
# The requests the main Ingress served, to the apex Service, which selects the primary's pods.
_PRIMARY_REQUESTS = 'namespace="{{ namespace }}", ingress="{{ ingress }}", canary=""'


def _table(requests: str) -> BuiltinTable:
    """The queries of the requests that `requests` (label matchers) select."""
    return BuiltinTable(
        mesh="nginx",
        success_rate=collapse(
            f"""
            sum(
                rate(
                    nginx_ingress_controller_requests{{
                        {requests},
                        status!~"5.*"
                    }}[{{{{ interval }}}}]
                )
            )
            /
            sum(
                rate(
                    nginx_ingress_controller_requests{{
                        {requests}
                    }}[{{{{ interval }}}}]
                )
            )
            * 100
            """
        ),
        duration=collapse(
            f"""
            sum(
                rate(
                    nginx_ingress_controller_response_duration_seconds_sum{{
                        {requests}
                    }}[{{{{ interval }}}}]
                )
            )
            /
            sum(
                rate(
                    nginx_ingress_controller_response_duration_seconds_count{{
                        {requests}
                    }}[{{{{ interval }}}}]
                )
            )
            * 1000
            """
        ),
        request_rate=collapse(
            f"""
            sum(
                rate(
                    nginx_ingress_controller_requests{{
                        {requests}
                    }}[{{{{ interval }}}}]
                )
            )
            """
        ),
        duration_statistic="mean",
    )


TABLE = replace(_table(_CANARY_REQUESTS), primary=_table(_PRIMARY_REQUESTS))
