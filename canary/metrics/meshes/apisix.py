"""APISIX's builtin queries: its Prometheus plugin's `apisix_http_status` and
`apisix_http_latency` series.

Read by `apisix`. The queries are Flagger's (its APISIX observer): the series of the canary
ApisixRoute's rule as the APISIX Ingress Controller names the APISIX route,
`<namespace>_<ApisixRoute>_<rule>`, selected as
`{{ namespace }}_{{ route }}-{{ target }}-canary_...` (`{{ route }}` is `spec.routeRef.name`;
the canary copy is `<routeRef>-<apex>-canary`, so the apex Service must be named after the
target, as Flagger assumes too). A route's series count all its upstreams: the success rate is
the copy's, primary and canary together, as in Flagger. The latency histogram is in
milliseconds already. Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.table import BuiltinTable, collapse

# The canary copy's APISIX routes, whatever the rule's name.
_CANARY_ROUTE = 'route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"'

TABLE = BuiltinTable(
    mesh="apisix",
    success_rate=collapse(
        f"""
        sum(
            rate(
                apisix_http_status{{
                    {_CANARY_ROUTE},
                    code!~"5.."
                }}[{{{{ interval }}}}]
            )
        )
        /
        sum(
            rate(
                apisix_http_status{{
                    {_CANARY_ROUTE}
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
                    apisix_http_latency_bucket{{
                        type=~"request",
                        {_CANARY_ROUTE}
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
                apisix_http_status{{
                    {_CANARY_ROUTE}
                }}[{{{{ interval }}}}]
            )
        )
        """
    ),
    together=(
        "APISIX counts a route's requests for all its upstreams at once: the series of the canary"
        " copy of the route are the primary's and the canary's requests together"
    ),
)
