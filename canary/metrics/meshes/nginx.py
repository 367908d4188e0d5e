"""ingress-nginx's builtin queries: the controller's `nginx_ingress_controller_*` series.

Read by `nginx`, with Flagger's queries for it (its NGINX observer: the `canary` label since
Flagger 1.15, the response-duration histogram since fluxcd/flagger#1686): the requests of the
user's Ingress (`{{ ingress }}`, the name in `spec.ingressRef`) that ingress-nginx served
through the canary Ingress (`canary!=""`: the `canary` label names the canary's upstream, empty
for requests the main Ingress served).
`request-duration` is the mean response time (sum over count), multiplied by 1000 in the query:
milliseconds already, as Flagger reads it. Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.table import BuiltinTable, collapse

_CANARY_REQUESTS = 'namespace="{{ namespace }}", ingress="{{ ingress }}", canary!=""'

TABLE = BuiltinTable(
    mesh="nginx",
    success_rate=collapse(
        f"""
        sum(
            rate(
                nginx_ingress_controller_requests{{
                    {_CANARY_REQUESTS},
                    status!~"5.*"
                }}[{{{{ interval }}}}]
            )
        )
        /
        sum(
            rate(
                nginx_ingress_controller_requests{{
                    {_CANARY_REQUESTS}
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
                    {_CANARY_REQUESTS}
                }}[{{{{ interval }}}}]
            )
        )
        /
        sum(
            rate(
                nginx_ingress_controller_response_duration_seconds_count{{
                    {_CANARY_REQUESTS}
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
                    {_CANARY_REQUESTS}
                }}[{{{{ interval }}}}]
            )
        )
        """
    ),
)
