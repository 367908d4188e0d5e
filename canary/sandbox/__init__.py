"""The local sandbox: a real Kubernetes control plane on 127.0.0.1, for users, the demo and tests.

It builds etcd, the Kubernetes control plane, kwok and helm from pinned Go modules (kept in
`gomod/`), runs them with Prometheus as processes of its own, and tears them down again. It is a
development and test instrument: nothing in the controller depends on it.
"""
