"""Run a Canary's metric checks for one analysis tick, all at once, each failing closed.

Resolves MetricTemplates (a missing one fails its check with a message that names it), picks the
Prometheus to ask (the template's address, the Canary's metricsServer, or the controller's) and
how (the template's `secretRef` and `insecureSkipVerify`), and runs every check concurrently.
Never raises for a provider's or a template's fault.

Credentials follow Flagger: the Secret named by `spec.provider.secretRef`, in the template's
namespace, holds `token` (sent as a bearer token), or else both `username` and `password`
(basic auth). A missing Secret or key fails the check, naming the Secret and the key: a query
meant to be authenticated is never sent without its credentials.
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
from canary.kube.errors import KubeError
from canary.kube.resources import METRIC_TEMPLATE, SECRET
from canary.metrics.checks import run_check
from canary.metrics.prometheus import Credentials, PrometheusClient

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
        self._timeout = timeout
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
            timeout=self._timeout,
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


async def run_checks(
    read: resources.Reader,
    canary: Canary,
    *,
    pool: PrometheusPool,
    default_url: str,
    default_provider: str,
) -> tuple[CheckResult, ...]:
    templates: dict[tuple[str, str], MetricTemplate] = {}
    credentials: dict[tuple[str, str], Credentials | None] = {}
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
            if key not in credentials:
                credentials[key] = await credentials_of(read, templates[key], namespace=key[0])
        except (CredentialsError, KubeError) as error:
            problems[metric.name] = f"{metric.name}: MetricTemplate {key[0]}/{key[1]}: {error}"
    context = context_of(canary, default_provider=default_provider)
    base_url = canary.spec.metrics_server or default_url

    async def one(index: int) -> CheckResult:
        metric = canary.spec.analysis.metrics[index]
        spec = specs[index]
        if metric.name in problems:
            low, high = metric.bounds
            return CheckResult(metric.name, Verdict.FAIL, None, problems[metric.name], low, high)
        if metric.template_ref is None:
            return await run_check(spec, context=context, client=pool.client(base_url))
        key = (
            metric.template_ref.namespace or canary.metadata.namespace,
            metric.template_ref.name,
        )
        provider = templates[key].spec.provider
        client = pool.client(
            provider.address or base_url,
            credentials=credentials[key],
            insecure_skip_verify=provider.insecure_skip_verify,
        )
        return await run_check(spec, context=context, client=client)

    specs = metric_specs(canary, templates)
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(index)) for index in range(len(specs))]
    return tuple(task.result() for task in tasks)


async def credentials_of(
    read: resources.Reader, template: MetricTemplate, *, namespace: str
) -> Credentials | None:
    """The credentials `template`'s `spec.provider.secretRef` names (None without one), read
    from its Secret in `namespace` (the template's); a `CredentialsError` saying what is
    missing when they cannot be had."""
    ref = template.spec.provider.secret_ref
    if ref is None:
        return None
    where = f"Secret {namespace}/{ref.name} (spec.provider.secretRef)"
    secret = await read(SECRET, namespace, ref.name)
    if secret is None:
        raise CredentialsError(f"{where} not found")
    data = secret.get("data") or {}
    try:
        values = {key: base64.b64decode(str(value)).decode() for key, value in data.items()}
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialsError(f"{where} holds a value that is not base64 of UTF-8 text") from None
    if values.get("token"):
        return Credentials(bearer_token=values["token"])
    for key in ("username", "password"):
        if key not in values:
            raise CredentialsError(
                f"{where} has no key {key!r}: it must hold token, or username and password"
            )
    return Credentials(username=values["username"], password=values["password"])
