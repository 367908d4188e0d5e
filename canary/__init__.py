"""A progressive delivery controller for Kubernetes: canary releases judged by Prometheus."""

__version__ = "0.1.0"
