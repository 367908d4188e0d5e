"""The AlertProvider CRD in a real API server: a good provider is stored as written and printed
with its type; bad ones are refused with the API server's exact words, and where a CEL rule
refuses, the model refuses the same manifest with the same message."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi
from kubernetes_asyncio.client.exceptions import ApiException
from pydantic import ValidationError

from canary.api import GROUP, VERSION, AlertProvider
from canary.api.alertprovider import (
    ADDRESS_XOR_SECRET_RULE,
    ALERT_ADDRESS_RULE,
    ALERT_PROXY_RULE,
)
from canary.sandbox.state import SandboxState
from tests.integration.crds import install_crds

Manifest = dict[str, Any]
PLURAL = "alertproviders"
NOT_ALL_CHECKED = {
    "reason": "FieldValueInvalid",
    "message": "Invalid value: null: some validation rules were not checked because the object "
    "was invalid; correct the existing errors to complete validation",
    "field": "<nil>",
}
TYPES = '"slack", "msteams", "discord", "gchat", "webhook"'


def _provider(**spec: Any) -> Manifest:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AlertProvider",
        "metadata": {"name": "on-call"},
        "spec": {"type": "slack", "address": "https://hooks.slack.test/services/T0/B0/x", **spec},
    }


def _cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    return {"reason": reason, "message": message, "field": field}


@dataclass(frozen=True)
class Bad:
    id: str
    change: Callable[[Manifest], None]
    causes: list[dict[str, str]]
    rule_message: str | None = None


def _set(**fields: Any) -> Callable[[Manifest], None]:
    """Set (or, with None, remove) fields of spec."""

    def change(manifest: Manifest) -> None:
        for name, value in fields.items():
            if value is None:
                manifest["spec"].pop(name, None)
            else:
                manifest["spec"][name] = value

    return change


BAD = [
    Bad(
        "neither-address-nor-secret",
        _set(address=None),
        [_cause("spec", f"Invalid value: {ADDRESS_XOR_SECRET_RULE.message}")],
        rule_message=ADDRESS_XOR_SECRET_RULE.message,
    ),
    Bad(
        "both-address-and-secret",
        _set(secretRef={"name": "slack-webhook"}),
        [_cause("spec", f"Invalid value: {ADDRESS_XOR_SECRET_RULE.message}")],
        rule_message=ADDRESS_XOR_SECRET_RULE.message,
    ),
    Bad(
        "address-without-scheme",
        _set(address="hooks.slack.com/services/x"),
        [
            _cause(
                "spec.address",
                f'Invalid value: "hooks.slack.com/services/x": {ALERT_ADDRESS_RULE.message}',
            )
        ],
        rule_message=ALERT_ADDRESS_RULE.message,
    ),
    Bad(
        "proxy-not-a-url",
        _set(proxy="proxy.internal:3128"),
        [
            _cause(
                "spec.proxy",
                f'Invalid value: "proxy.internal:3128": {ALERT_PROXY_RULE.message}',
            )
        ],
        rule_message=ALERT_PROXY_RULE.message,
    ),
    Bad(
        "unknown-type",
        _set(type="rocket"),
        [
            _cause(
                "spec.type",
                f'Unsupported value: "rocket": supported values: {TYPES}',
                "FieldValueNotSupported",
            ),
            NOT_ALL_CHECKED,
        ],
    ),
    Bad(
        "no-type",
        _set(type=None),
        [_cause("spec.type", "Required value", "FieldValueRequired"), NOT_ALL_CHECKED],
    ),
    Bad(
        "secret-name-not-a-name",
        _set(address=None, secretRef={"name": "Slack_Webhook"}),
        [
            _cause(
                "spec.secretRef.name",
                'Invalid value: "Slack_Webhook": spec.secretRef.name in body should match '
                "'^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'",
            )
        ],
    ),
    Bad(
        "empty-channel",
        _set(channel=""),
        [
            _cause(
                "spec.channel",
                'Invalid value: "": spec.channel in body should be at least 1 chars long',
            )
        ],
    ),
]


@pytest.fixture
async def crds(api: ApiClient) -> list[str]:
    return await install_crds(api)


async def _create(api: ApiClient, namespace: str, manifest: Manifest) -> Manifest:
    created: Manifest = await CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, manifest, field_validation="Strict"
    )
    return created


def _causes(error: ApiException) -> list[dict[str, str]]:
    assert error.status == 422, error.body
    assert error.body is not None
    causes: list[dict[str, str]] = json.loads(error.body)["details"]["causes"]
    return causes


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "slack", "address": "https://hooks.slack.test/services/T0/B0/x"},
        {
            "type": "msteams",
            "secretRef": {"name": "teams-webhook"},
            "proxy": "http://proxy.internal:3128",
        },
        {"type": "discord", "address": "https://discord.test/api/webhooks/1/x", "username": "rel"},
        {"type": "gchat", "secretRef": {"name": "gchat"}},
        {"type": "webhook", "address": "http://receiver.test:8080/alerts", "channel": "ops"},
    ],
    ids=lambda spec: spec["type"],
)
async def test_good_providers_are_stored_as_written(
    api: ApiClient, namespace: str, crds: list[str], spec: Manifest
) -> None:
    assert "alertproviders.canary.dev" in crds
    manifest = _provider()
    manifest["spec"] = spec
    stored = await _create(api, namespace, manifest)
    assert stored["spec"] == spec
    parsed = AlertProvider.model_validate(stored)
    assert parsed.spec.type == spec["type"]
    assert parsed.metadata.namespace == namespace


@pytest.mark.parametrize("bad", BAD, ids=[bad.id for bad in BAD])
async def test_a_bad_provider_is_refused_with_exact_messages(
    api: ApiClient, namespace: str, crds: list[str], bad: Bad
) -> None:
    assert crds
    manifest = _provider()
    bad.change(manifest)
    with pytest.raises(ApiException) as refused:
        await _create(api, namespace, manifest)
    assert _causes(refused.value) == bad.causes
    with pytest.raises(ValidationError) as invalid:
        AlertProvider.model_validate(manifest)
    if bad.rule_message is not None:
        assert re.search(re.escape(bad.rule_message), str(invalid.value))


async def test_kubectl_get_alertproviders_prints_the_type(
    api: ApiClient, namespace: str, crds: list[str], sandbox: SandboxState
) -> None:
    assert crds
    await _create(api, namespace, _provider(type="msteams"))
    result = _kubectl(sandbox, "--namespace", namespace, "get", "alertproviders")
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["NAME", "TYPE", "AGE"]
    assert row.split()[:2] == ["on-call", "msteams"]


def _kubectl(sandbox: SandboxState, *args: str) -> subprocess.CompletedProcess[str]:
    """The sandbox's own kubectl (the pinned release), as `canary sandbox env` puts it on PATH."""
    path = os.pathsep.join([*sandbox.bin_dirs, os.environ.get("PATH", "")])
    env = {**os.environ, "KUBECONFIG": sandbox.kubeconfig, "PATH": path}
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, check=False)


def test_every_bad_manifest_differs_from_the_good_one() -> None:
    for bad in BAD:
        changed = _provider()
        bad.change(changed)
        assert changed != _provider(), bad.id
