"""The controller's own observability: structured logs, metrics, health endpoints."""
