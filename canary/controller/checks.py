"""Run a Canary's metric checks for one analysis tick, all at once, each failing closed.

Resolves MetricTemplates (a missing one fails its check with a message that names it), reads
the Secret each one's `spec.provider.secretRef` names (in the template's namespace), and asks
the provider registry (canary.metrics.providers) for the client of its `spec.provider.type`;
a metric without a template asks the Canary's metricsServer or the controller's Prometheus.
Runs every check concurrently. Never raises for a provider's or a template's fault.

Which keys the Secret must hold is the provider's business (Flagger's keys; for Prometheus
`token`, or else `username` and `password`). A missing Secret or key fails the check, naming
the Secret and the key: a query meant to be authenticated is never sent without its credentials.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import OrderedDict
from typing import Final

from pydantic import ValidationError

from canary.api.canary import Canary
from canary.api.metrictemplate import MetricTemplate
from canary.controller.convert import context_of, metric_specs
from canary.core.model import CheckResult, Verdict
from canary.kube import resources
from canary.kube.client import ApiClient
from canary.kube.errors import KubeError
from canary.kube.resources import METRIC_TEMPLATE, SECRET
from canary.metrics.checks import run_check
from canary.metrics.errors import MetricError
from canary.metrics.prometheus import Credentials, PrometheusClient
from canary.metrics.providers import Connections, ProviderSettings, connect
from canary.metrics.providers.prometheus import credentials_from

METRIC_TEMPLATES = METRIC_TEMPLATE
# Clients kept at most; the least recently used one is closed beyond (rotated credentials).
MAX_CLIENTS: Final = 128

_ClientKey = tuple[str, Credentials | None, bool]


class CredentialsError(ValueError):
    """A MetricTemplate's `secretRef` cannot be used; the message names the Secret and key."""


class PrometheusPool:
    """One client per Prometheus URL and credentials, kept across cycles (each holds a small
    thread pool)."""

    def __init__(self, *, timeout: float) -> None:
        self.timeout = timeout
        self._clients: OrderedDict[_ClientKey, PrometheusClient] = OrderedDict()

    def client(
        self,
        url: str,
        *,
        credentials: Credentials | None = None,
        insecure_skip_verify: bool = False,
    ) -> PrometheusClient:
        key = (url, credentials, insecure_skip_verify)
        if key in self._clients:
            self._clients.move_to_end(key)
            return self._clients[key]
        self._clients[key] = PrometheusClient(
            url,
            timeout=self.timeout,
            credentials=credentials,
            insecure_skip_verify=insecure_skip_verify,
        )
        while len(self._clients) > MAX_CLIENTS:
            _key, oldest = self._clients.popitem(last=False)
            oldest.close(cancel_pending=False)  # another Canary's check may be using it
        return self._clients[key]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


async def run_checks(  # noqa: PLR0913 - keyword-only beyond the reader and the Canary
    read: resources.Reader,
    canary: Canary,
    *,
    pool: PrometheusPool,
    default_url: str,
    default_provider: str,
    api: ApiClient | None = None,
) -> tuple[CheckResult, ...]:
    templates: dict[tuple[str, str], MetricTemplate] = {}
    secrets: dict[tuple[str, str], dict[str, str] | None] = {}
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
            continue
        try:
            if key not in secrets:
                secrets[key] = await secret_values(read, templates[key], namespace=key[0])
        except (CredentialsError, KubeError) as error:
            problems[metric.name] = f"{metric.name}: MetricTemplate {key[0]}/{key[1]}: {error}"
    context = context_of(canary, default_provider=default_provider)
    base_url = canary.spec.metrics_server or default_url
    connections = Connections(
        prometheus=pool, default_prometheus=base_url, timeout=pool.timeout, read=read, api=api
    )

    async def one(index: int) -> CheckResult:
        metric = canary.spec.analysis.metrics[index]
        spec = specs[index]
        if metric.template_ref is None and metric.name not in problems:
            return await run_check(spec, context=context, client=pool.client(base_url))
        if metric.template_ref is not None and metric.name not in problems:
            key = (
                metric.template_ref.namespace or canary.metadata.namespace,
                metric.template_ref.name,
            )
            provider = templates[key].spec.provider
            ref = provider.secret_ref
            settings = ProviderSettings(
                type=provider.type,
                address=provider.address,
                region=provider.region,
                insecure_skip_verify=provider.insecure_skip_verify,
                secret=secrets[key],
                holder=_holder(key[0], ref.name if ref else ""),
                interval=spec.interval,
                namespace=canary.metadata.namespace,
            )
            try:
                client = connect(settings, connections)
            except MetricError as error:
                problems[metric.name] = (
                    f"{metric.name}: MetricTemplate {key[0]}/{key[1]}: {error.message}"
                )
            else:
                return await run_check(spec, context=context, client=client)
        low, high = metric.bounds
        return CheckResult(metric.name, Verdict.FAIL, None, problems[metric.name], low, high)

    specs = metric_specs(canary, templates)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(index)) for index in range(len(specs))]
    return tuple(task.result() for task in tasks)


async def credentials_of(
    read: resources.Reader, template: MetricTemplate, *, namespace: str
) -> Credentials | None:
    """The Prometheus credentials `template`'s `spec.provider.secretRef` names (None without
    one), read from its Secret in `namespace` (the template's); a `CredentialsError` saying
    what is missing when they cannot be had."""
    values = await secret_values(read, template, namespace=namespace)
    if values is None:
        return None
    ref = template.spec.provider.secret_ref
    try:
        return credentials_from(values, where=_holder(namespace, ref.name if ref else ""))
    except MetricError as error:
        raise CredentialsError(error.message) from None


async def secret_values(
    read: resources.Reader, template: MetricTemplate, *, namespace: str
) -> dict[str, str] | None:
    """The decoded values of the Secret `template`'s `spec.provider.secretRef` names, in
    `namespace` (None without a secretRef); a `CredentialsError` when it cannot be read."""
    ref = template.spec.provider.secret_ref
    if ref is None:
        return None
    where = _holder(namespace, ref.name)
    secret = await read(SECRET, namespace, ref.name)
    if secret is None:
        raise CredentialsError(f"{where} not found")
    data = secret.get("data") or {}
    try:
        return {key: base64.b64decode(str(value)).decode() for key, value in data.items()}
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialsError(f"{where} holds a value that is not base64 of UTF-8 text") from None


def _holder(namespace: str, name: str) -> str:
    return f"Secret {namespace}/{name} (spec.provider.secretRef)"
