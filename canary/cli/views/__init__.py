"""The CLI's read-only views of Canaries: `get`, `describe` and `status`.

Each command reads through `canary.kube` (and Prometheus through `canary.metrics`), turns what it
read into plain values with `canary.views` (shared with the dashboard) and renders them as
plain text (`sections.py`, `get.render`, `verdict.py`), so the rendering is tested without a
cluster. Nothing here writes to the cluster.
"""
