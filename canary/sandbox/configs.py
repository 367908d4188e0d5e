"""The configuration files the sandbox's components read: kubeconfig and Prometheus' config."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from canary.sandbox.pki import PkiFiles


def write_kubeconfig(
    path: Path, *, server: str, pki: PkiFiles, name: str = "canary-sandbox"
) -> None:
    """An admin kubeconfig (client cert in `system:masters`) for the sandbox's API server."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {"server": server, "certificate-authority": str(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": f"{name}-admin",
                "user": {
                    "client-certificate": str(pki.admin_cert),
                    "client-key": str(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {
                "name": name,
                "context": {"cluster": name, "user": f"{name}-admin", "namespace": "default"},
            }
        ],
        "current-context": name,
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


@dataclass(frozen=True)
class ScrapeJob:
    """One Prometheus job scraping `target` (host:port), every `interval` if not the global one."""

    name: str
    target: str
    interval: str | None = None


def write_prometheus_config(path: Path, *, jobs: Sequence[ScrapeJob], interval: str = "5s") -> None:
    """Prometheus scraping each job's target, by default every `interval`."""
    scrape_configs = []
    for job in jobs:
        job_config: dict[str, object] = {"job_name": job.name}
        if job.interval is not None:
            # The timeout may not exceed the interval, and the global default (10 s) would.
            job_config |= {"scrape_interval": job.interval, "scrape_timeout": job.interval}
        job_config["static_configs"] = [{"targets": [job.target]}]
        scrape_configs.append(job_config)
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": scrape_configs,
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
