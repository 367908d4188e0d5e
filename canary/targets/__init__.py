"""The workloads a Canary releases (Deployments): primary copies, scaling and readiness.

Builders here are pure functions of manifests; the few functions that touch the cluster live in
`canary.targets.apply`. Nothing here knows about routers or decides when to act.
"""
