"""The configuration files the sandbox's components read: kubeconfig and Prometheus' config."""

from __future__ import annotations

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


def write_prometheus_config(
    path: Path, *, scrape_targets: dict[str, str], interval: str = "5s"
) -> None:
    """Prometheus scraping each `job -> host:port` target every `interval`."""
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [target]}]}
            for job, target in scrape_targets.items()
        ],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
