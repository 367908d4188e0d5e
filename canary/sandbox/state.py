"""Where a sandbox keeps its files, and the record (`state.json`) of what it runs and where.

The record is written once the sandbox is up and read by `status`, `env` and `down`, possibly by
another process much later; it is the only way those commands find the sandbox's processes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from canary.sandbox.processes import ProcessRecord

STATE_FILE = "state.json"
# How often Prometheus scrapes the mesh simulator, unless `up --scrape-interval` says otherwise:
# its counters move every 250 ms, and a 1 s scrape lets short rate windows work. At a thousand
# Canaries one scrape is 18 MB (bench/scale.py uses 15 s).
MESHSIM_SCRAPE_INTERVAL = "1s"


def default_state_dir() -> Path:
    if explicit := os.environ.get("CANARY_SANDBOX_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "canary" / "sandbox"


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int
    prometheus: int
    # 0 in the record of a sandbox started before the mesh simulator existed.
    meshsim: int = 0

    @classmethod
    def from_list(cls, ports: list[int]) -> Ports:
        return cls(*ports)

    @staticmethod
    def count() -> int:
        return len(fields(Ports))


@dataclass(frozen=True)
class SandboxState:
    """What `up` started: ports, processes, and the files a client needs."""

    directory: str
    ports: Ports
    kubeconfig: str
    prometheus_url: str
    bin_dirs: tuple[str, ...]
    kubernetes_version: str
    processes: tuple[ProcessRecord, ...] = field(default=())
    # Component -> the release whose CRDs `up` installed (Gateway API, KEDA, the providers');
    # a component missing means a sandbox from before it did.
    crd_versions: Mapping[str, str] = field(default_factory=dict)
    # False while `up` is still starting things; a record left at False means `up` died midway.
    ready: bool = False
    # How often Prometheus scrapes the mesh simulator (`up --scrape-interval`).
    scrape_interval: str = MESHSIM_SCRAPE_INTERVAL

    @property
    def api_server_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    def save(self) -> None:
        path = Path(self.directory) / STATE_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        temporary.replace(path)

    @classmethod
    def load(cls, directory: Path) -> SandboxState | None:
        """The recorded state, or None when no sandbox was recorded in `directory`."""
        path = directory / STATE_FILE
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        return cls(
            directory=raw["directory"],
            ports=Ports(**raw["ports"]),
            kubeconfig=raw["kubeconfig"],
            prometheus_url=raw["prometheus_url"],
            bin_dirs=tuple(raw["bin_dirs"]),
            kubernetes_version=raw["kubernetes_version"],
            ready=raw["ready"],
            crd_versions=dict(raw.get("crd_versions") or {}),
            scrape_interval=raw.get("scrape_interval", MESHSIM_SCRAPE_INTERVAL),
            processes=tuple(
                ProcessRecord(**{**p, "argv": tuple(p["argv"])}) for p in raw["processes"]
            ),
        )
