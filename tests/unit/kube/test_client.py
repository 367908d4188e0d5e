"""The API client reads the environment once (its proxy, not aiohttp's per-request lookups) and
speaks HTTP/2 where it can."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes_asyncio.client import Configuration

from canary.kube.client import IDLE_CONNECTION_SECONDS, api_client, proxy_once
from canary.kube.transport import Http2RestClient

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: "t"}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
"""


def _configuration(host: str) -> Configuration:
    configuration = Configuration()
    configuration.host = host
    return configuration


async def test_the_session_does_not_look_up_the_environment_per_request(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    async with api_client(kubeconfig) as client:
        assert client.configuration.host == "https://127.0.0.1:6443"
        assert client.rest_client.pool_manager.trust_env is False


async def test_idle_connections_are_kept_until_shortly_before_the_api_server_closes_them(
    tmp_path: Path,
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    async with api_client(kubeconfig) as client:
        connector = client.rest_client.pool_manager.connector
        assert connector is not None
        assert connector._keepalive_timeout == IDLE_CONNECTION_SECONDS
    assert 15 < IDLE_CONNECTION_SECONDS < 90  # longer than aiohttp's default, under the server's


def test_the_proxy_comes_from_the_environment_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://user:secret@127.0.0.1:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    configuration = _configuration("https://kube.example:6443")
    proxy_once(configuration)
    assert configuration.proxy == "http://user:secret@127.0.0.1:3128"


def test_no_proxy_and_a_configured_proxy_are_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    monkeypatch.setenv("NO_PROXY", "kube.example")
    bypassed = _configuration("https://kube.example:6443")
    proxy_once(bypassed)
    assert bypassed.proxy is None
    named = _configuration("https://other.example:6443")
    named.proxy = "http://127.0.0.1:8080"
    proxy_once(named)
    assert named.proxy == "http://127.0.0.1:8080"


async def test_the_client_speaks_http2_unless_told_not_to_or_sent_through_a_proxy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    async with api_client(kubeconfig) as client:
        assert isinstance(client.rest_client, Http2RestClient)
        assert client.rest_client.speaks_http2
    async with api_client(kubeconfig, http2=False) as client:
        assert not isinstance(client.rest_client, Http2RestClient)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    async with api_client(kubeconfig) as client:
        assert isinstance(client.rest_client, Http2RestClient)
        assert not client.rest_client.speaks_http2  # aiohttp's client goes through the proxy
