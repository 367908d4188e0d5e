"""Controller settings for running reconcile cycles in-process against the sandbox."""

from __future__ import annotations

from pathlib import Path

from canary.controller.settings import Settings
from canary.sandbox.state import SandboxState


def sandbox_settings(sandbox: SandboxState, *, cluster_name: str = "") -> Settings:
    return Settings(
        kubeconfig=Path(sandbox.kubeconfig),
        prometheus_url=sandbox.prometheus_url,
        provider="linkerd",
        namespaces=(),
        log_format="console",
        log_level="warning",
        listen="",
        min_interval=1.0,
        max_parallel=1,
        max_progressing=10,
        prometheus_timeout=5.0,
        cluster_name=cluster_name,
    )
