"""Gloo Edge's builtin queries: its Envoy's `envoy_cluster_upstream_rq` counter and
`envoy_cluster_upstream_rq_time` histogram (milliseconds), per upstream cluster.

Gloo names the Envoy cluster of an Upstream `<upstream>_<upstream namespace>`, and the canary's
Upstream is `<namespace>-<apex>-canaryupstream-<port>`. Flagger's observer matches
`{{ namespace }}-{{ target }}-canaryupstream-...`, which misses the Upstream when `service.name`
differs from the target's name (its router names Upstreams after the apex Service); these
queries use `{{ service }}`, the apex Service's name, and are otherwise Flagger's, character for
character once whitespace is collapsed. The views show the primary's Upstream
(`...-primaryupstream-...`) beside the canary's. Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.envoy import envoy_table

_CLUSTER = (
    'envoy_cluster_name=~"{{ namespace }}-{{ service }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"'
)

_PRIMARY_CLUSTER = (
    'envoy_cluster_name=~"{{ namespace }}-{{ service }}-primaryupstream-[0-9a-zA-Z-]+'
    '_[0-9a-zA-Z-]+"'
)

TABLE = envoy_table("gloo", _CLUSTER, primary=_PRIMARY_CLUSTER)
