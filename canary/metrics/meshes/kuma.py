"""Kuma's builtin queries: its dataplanes' Envoy series, by the canary's `kuma.io/service` tag.

Flagger's Kuma observer reads `envoy_cluster_upstream_rq` (by `envoy_response_code`) and
`envoy_cluster_upstream_rq_time_bucket` (milliseconds), labelled `service` with the
`kuma.io/service` tag of the dataplane that reports them: `<target>-canary_<namespace>_svc_<port>`
for the canary's pods (the apex being the target's name, as Flagger assumes). The views show the
primary's, `<target>-primary_...`, beside them. Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.envoy import envoy_table

_SERVICE = 'service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"'

_PRIMARY_SERVICE = 'service=~"{{ target }}-primary_{{ namespace }}_svc_[0-9a-zA-Z-]+"'

TABLE = envoy_table("kuma", _SERVICE, primary=_PRIMARY_SERVICE)
