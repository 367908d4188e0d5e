"""The AlertProvider CRD in a real API server: a good provider is stored as written and printed
with its type. What it refuses, and `canary check` with it, is in the admission corpus
(`tests/admission_corpus/`, run by `test_admission_corpus.py`)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from kubernetes_asyncio.client import ApiClient, CustomObjectsApi

from canary.api import GROUP, VERSION, AlertProvider
from canary.sandbox.state import SandboxState
from tests.admission_corpus import GOOD_PROVIDERS, provider
from tests.integration.crds import install_crds

Manifest = dict[str, Any]
PLURAL = "alertproviders"


@pytest.fixture
async def crds(api: ApiClient) -> list[str]:
    return await install_crds(api)


async def _create(api: ApiClient, namespace: str, manifest: Manifest) -> Manifest:
    created: Manifest = await CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, manifest, field_validation="Strict"
    )
    return created


@pytest.mark.parametrize(
    "spec",
    GOOD_PROVIDERS,
    ids=lambda spec: spec["type"],
)
async def test_good_providers_are_stored_as_written(
    api: ApiClient, namespace: str, crds: list[str], spec: Manifest
) -> None:
    assert "alertproviders.canary.dev" in crds
    manifest = provider()
    manifest["spec"] = spec
    stored = await _create(api, namespace, manifest)
    assert stored["spec"] == spec
    parsed = AlertProvider.model_validate(stored)
    assert parsed.spec.type == spec["type"]
    assert parsed.metadata.namespace == namespace


async def test_kubectl_get_alertproviders_prints_the_type(
    api: ApiClient, namespace: str, crds: list[str], sandbox: SandboxState
) -> None:
    assert crds
    await _create(api, namespace, provider(type="msteams"))
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
