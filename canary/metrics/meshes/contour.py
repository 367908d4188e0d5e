"""Contour's builtin queries: its Envoy's `envoy_cluster_upstream_rq` counter and
`envoy_cluster_upstream_rq_time` histogram (milliseconds), per upstream cluster.

Contour names an upstream cluster's statistics `<namespace>_<service>_<port>`, so the canary's
are those of the `<apex>-canary` Service: `{{ service }}` is the apex Service's name (the
target's when `service.name` is not set), as in Flagger's observer since fluxcd/flagger#1204.
The queries are Flagger's, character for character once whitespace is collapsed (its stray
commas before `}` included: PromQL accepts them). Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.envoy import envoy_table

_CLUSTER = 'envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"'
_PRIMARY_CLUSTER = 'envoy_cluster_name=~"{{ namespace }}_{{ service }}-primary_[0-9a-zA-Z-]+"'

TABLE = envoy_table("contour", _CLUSTER, primary=_PRIMARY_CLUSTER)
