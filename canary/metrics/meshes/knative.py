"""Knative's builtin queries: the Envoy series of the Knative ingress (Kourier), per Revision.

Flagger's Knative observer reads `envoy_cluster_upstream_rq` (by `envoy_response_code`) and
`envoy_cluster_upstream_rq_time_bucket` (milliseconds) of the Envoy cluster
`<namespace>/<revision>` that Kourier keeps for each Revision. `{{ route }}` is the Revision
under analysis for a Knative target (see `canary.controller.convert.context_of`), so only the
canary's requests are judged; the views read the primary's Revision's cluster with the same
queries, `{{ route }}` being the primary's Revision then. Data only.
"""

from __future__ import annotations

from canary.metrics.meshes.envoy import envoy_table

_CLUSTER = 'envoy_cluster_name=~"{{ namespace }}/{{ route }}"'

TABLE = envoy_table("knative", _CLUSTER)
