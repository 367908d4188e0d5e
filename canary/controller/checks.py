"""Run a Canary's metric checks for one analysis tick, all at once, each failing closed.

Resolves MetricTemplates (a missing one fails its check with a message that names it), picks the
Prometheus to ask (the template's address, the Canary's metricsServer, or the controller's), and
runs every check concurrently. Never raises for a provider's or a template's fault.
"""

from __future__ import annotations

import asyncio

from pydantic import ValidationError

from canary.api.canary import Canary
from canary.api.metrictemplate import MetricTemplate
from canary.controller.convert import context_of, metric_specs
from canary.core.model import CheckResult, Verdict
from canary.kube import resources
from canary.kube.errors import KubeError
from canary.kube.resources import METRIC_TEMPLATE
from canary.metrics.checks import run_check
from canary.metrics.prometheus import PrometheusClient

METRIC_TEMPLATES = METRIC_TEMPLATE


class PrometheusPool:
    """One client per Prometheus URL, kept across cycles (each holds a small thread pool)."""

    def __init__(self, *, timeout: float) -> None:
        self._timeout = timeout
        self._clients: dict[str, PrometheusClient] = {}

    def client(self, url: str) -> PrometheusClient:
        if url not in self._clients:
            self._clients[url] = PrometheusClient(url, timeout=self._timeout)
        return self._clients[url]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


async def run_checks(
    read: resources.Reader,
    canary: Canary,
    *,
    pool: PrometheusPool,
    default_url: str,
    default_provider: str,
) -> tuple[CheckResult, ...]:
    templates: dict[tuple[str, str], MetricTemplate] = {}
    problems: dict[str, str] = {}
    for metric in canary.spec.analysis.metrics:
        if metric.template_ref is None:
            continue
        key = (metric.template_ref.namespace or canary.metadata.namespace, metric.template_ref.name)
        try:
            raw = await read(METRIC_TEMPLATES, key[0], key[1])
        except KubeError as error:  # e.g. 403 on another namespace: the check fails, says why
            problems[metric.name] = f"{metric.name}: MetricTemplate {key[0]}/{key[1]}: {error}"
            continue
        if raw is None:
            problems[metric.name] = f"{metric.name}: MetricTemplate {key[0]}/{key[1]} not found"
            continue
        try:
            templates[key] = MetricTemplate.model_validate(raw)
        except ValidationError as error:
            reason = error.errors()[0]["msg"]
            problems[metric.name] = f"{metric.name}: MetricTemplate {key[0]}/{key[1]}: {reason}"
    context = context_of(canary, default_provider=default_provider)
    base_url = canary.spec.metrics_server or default_url

    async def one(index: int) -> CheckResult:
        metric = canary.spec.analysis.metrics[index]
        spec = specs[index]
        if metric.name in problems:
            bounds = metric.threshold_range
            return CheckResult(
                metric.name,
                Verdict.FAIL,
                None,
                problems[metric.name],
                bounds.min if bounds else None,
                bounds.max if bounds else None,
            )
        url = base_url
        if metric.template_ref is not None:
            key = (
                metric.template_ref.namespace or canary.metadata.namespace,
                metric.template_ref.name,
            )
            url = templates[key].spec.provider.address or base_url
        return await run_check(spec, context=context, client=pool.client(url))

    specs = metric_specs(canary, templates)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(index)) for index in range(len(specs))]
    return tuple(task.result() for task in tasks)
