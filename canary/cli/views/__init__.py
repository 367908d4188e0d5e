"""The CLI's read-only views of Canaries: `get`, `describe` and `status`.

Each command reads through `canary.kube` (and Prometheus through `canary.metrics`), turns what it
read into plain values (`summary.py`, `timeline.py`) and renders them as plain text (`text.py`),
so the rendering is tested without a cluster. Nothing here writes to the cluster.
"""
