"""The application's own `http_request_duration_seconds` histogram, for providers with no proxies.

Read by `kubernetes` and `gatewayapi[:version]`, with Flagger's queries for them (its
`HttpObserver`): the series of the target's pods, selected by the `kubernetes_namespace` and
`kubernetes_pod_name` labels that Prometheus's pod discovery adds
(`{{ target }}-<replicaset hash>-<pod hash>`, so not the primary's pods). That histogram is in
seconds; Flagger converts its p99 to milliseconds after the query, and so does `duration_scale`.
Data only.
"""

from __future__ import annotations

from dataclasses import replace

from canary.metrics.meshes.table import BuiltinTable, collapse

# The target's pods (`<target>-<replicaset hash>-<pod hash>`) in the labels Prometheus's pod
# discovery gives the application's own series (Flagger's `kubernetes-pods` scrape job).
_TARGET_PODS = (
    'kubernetes_namespace="{{ namespace }}", '
    'kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"'
)
# A DaemonSet's pods are `<target>-<5 characters>` (no ReplicaSet hash). Flagger's pattern above
# would miss them and match the primary's instead (`<target>-primary-<5>`): the 5 characters are
# those Kubernetes generates names from, so neither the primary's pods nor another workload's
# `<target>-<word>-...` match.
_DAEMON_SET_PODS = (
    'kubernetes_namespace="{{ namespace }}", '
    'kubernetes_pod_name=~"{{ target }}-[bcdfghjklmnpqrstvwxz2456789]{5}"'
)


def _table(pods: str) -> BuiltinTable:
    """The builtin queries of the application's own histogram, for the pods `pods` selects."""
    return BuiltinTable(
        mesh="http",
        success_rate=collapse(
            f"""
            sum(
                rate(
                    http_request_duration_seconds_count{{
                        {pods},
                        status!~"5.*"
                    }}[{{{{ interval }}}}]
                )
            )
            /
            sum(
                rate(
                    http_request_duration_seconds_count{{
                        {pods}
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
                        http_request_duration_seconds_bucket{{
                            {pods}
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
                    http_request_duration_seconds_count{{
                        {pods}
                    }}[{{{{ interval }}}}]
                )
            )
            """
        ),
        duration_scale=1000.0,
    )


TABLE = replace(_table(_TARGET_PODS), daemon_set=_table(_DAEMON_SET_PODS))
