"""Metric checks: builtin and templated PromQL, asked of Prometheus, judged against a range.

The controller converts API models into `MetricSpec` and `CanaryContext` and calls `run_check`
(or `evaluate`) with a `PrometheusClient`; it gets back a `canary.core.model.CheckResult`.
Nothing here imports the API models, and only `prometheus.py` talks to Prometheus.
"""

from canary.metrics.checks import CheckOutcome, QueryClient, evaluate, run_check
from canary.metrics.errors import FailureKind, MetricError, TemplateError
from canary.metrics.inputs import CanaryContext, MetricSpec
from canary.metrics.prometheus import Credentials, PrometheusClient

__all__ = [
    "CanaryContext",
    "CheckOutcome",
    "Credentials",
    "FailureKind",
    "MetricError",
    "MetricSpec",
    "PrometheusClient",
    "QueryClient",
    "TemplateError",
    "evaluate",
    "run_check",
]
