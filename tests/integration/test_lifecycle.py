"""`up`, `status`, `env` and `down` of a second sandbox: idempotent, complete, and clean on failure.

These start sandboxes of their own beside the shared one, which also proves that two run side by
side on free ports.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from canary.sandbox import cluster, components, processes
from canary.sandbox.binaries import Binaries, default_cache_root, ensure_binaries
from canary.sandbox.errors import SandboxError
from canary.sandbox.ports import free_ports, is_listening
from canary.sandbox.state import Ports, SandboxState

messages: list[str] = []
POLL = 0.2  # seconds between two reads of Prometheus's target list


def _binaries() -> Binaries:
    return ensure_binaries(default_cache_root(), messages.append)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canary.cli.main", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _meshsim_scrape_interval(prometheus_url: str, *, within: float = 30.0) -> str:
    """The interval Prometheus itself reports for its mesh simulator target, once it lists the
    target (ready Prometheus adds its static targets a moment later)."""
    url = f"{prometheus_url}/api/v1/targets"  # the sandbox's: http://127.0.0.1:port
    deadline = time.monotonic() + within
    while True:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            targets = json.load(response)["data"]["activeTargets"]
        found = [t for t in targets if t["labels"]["job"] == "meshsim"]
        if found:
            return str(found[0]["scrapeInterval"])
        assert time.monotonic() < deadline, f"no meshsim target in {within} s: {targets}"
        time.sleep(POLL)


def _environ(pid: int) -> dict[str, str]:
    """The environment process `pid` was started with."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(entry.decode().split("=", 1) for entry in raw if b"=" in entry)


def _processes_mentioning(path: Path) -> list[str]:
    """Command lines of live processes that name `path`: the sandbox's own, and nothing else."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if str(path) in argv and state != "Z":
                found.append(argv)
    return found


@pytest.mark.usefixtures("sandbox")
def test_up_is_idempotent_status_reports_and_down_leaves_nothing(tmp_path: Path) -> None:
    state_dir = tmp_path / "second"
    first = cluster.up(state_dir, _binaries(), messages.append, scrape_interval="2s")
    try:
        again = cluster.up(state_dir, _binaries(), messages.append)
        assert again == first, "a second `up` must not restart anything"
        assert messages[-2].endswith("nothing changed")
        assert "every 2s, not 1s: `canary sandbox down` first" in messages[-1]
        assert _meshsim_scrape_interval(first.prometheus_url) == "2s"
        gogc = {p.name: _environ(p.pid).get("GOGC") for p in first.processes}
        expected = os.environ.get("GOGC", components.GO_GC_PERCENT)
        assert gogc["kube-apiserver"] == gogc["etcd"] == expected, gogc
        assert gogc["meshsim"] == os.environ.get("GOGC"), gogc

        status = _cli("sandbox", "status", "--dir", str(state_dir))
        assert status.returncode == 0, status.stderr
        for name in (
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok",
            "prometheus",
        ):
            assert f"{name} " in status.stdout
        assert "STOPPED" not in status.stdout
        assert first.api_server_url in status.stdout
        assert "scrapes the mesh simulator every 2s" in status.stdout
    finally:
        down = _cli("sandbox", "down", "--dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert not any(processes.is_running(p) for p in first.processes)
    assert _processes_mentioning(state_dir) == []
    assert not [port for port in dataclasses.astuple(first.ports) if is_listening(port)]
    assert not state_dir.exists()
    assert _cli("sandbox", "status", "--dir", str(state_dir)).returncode == 1
    assert _cli("sandbox", "env", "--dir", str(state_dir)).returncode == 1


@pytest.mark.usefixtures("sandbox")
def test_a_component_that_fails_names_its_step_and_log_and_nothing_stays_running(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "kube-scheduler"
    broken.write_text("#!/bin/sh\necho 'unknown flag: --this-build-is-broken' >&2\nexit 2\n")
    broken.chmod(0o755)
    binaries = dataclasses.replace(_binaries(), kube_scheduler=broken)
    state_dir = tmp_path / "failing"
    recorded: list[SandboxState] = []

    def remember(_message: str) -> None:
        loaded = SandboxState.load(state_dir)
        if loaded is not None:
            recorded.append(loaded)

    with pytest.raises(SandboxError) as failure:
        cluster.up(state_dir, binaries, remember)

    log = state_dir / "logs" / "kube-scheduler.log"
    expected = "start kube-scheduler: kube-scheduler exited with code 2 before it became ready"
    assert str(failure.value) == f"{expected} (log: {log})"
    assert "unknown flag" in log.read_text()
    assert {p.name for p in recorded[-1].processes} >= {"etcd", "kube-apiserver"}
    assert _processes_mentioning(state_dir) == []
    assert not [port for port in dataclasses.astuple(recorded[-1].ports) if is_listening(port)]
    assert SandboxState.load(state_dir) is None


@pytest.mark.usefixtures("sandbox")
def test_a_port_taken_between_choice_and_use_fails_naming_the_component(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        chosen = free_ports(Ports.count())
        # The port chooser is replaced so that etcd's client port is one somebody else holds.
        monkeypatch.setattr(cluster, "free_ports", lambda _count: [taken, *chosen[1:]])
        state_dir = tmp_path / "clash"
        with pytest.raises(SandboxError) as failure:
            cluster.up(state_dir, _binaries(), messages.append)
    log = state_dir / "logs" / "etcd.log"
    assert str(failure.value).startswith("start etcd: etcd exited with code ")
    assert str(failure.value).endswith(f"before it became ready (log: {log})")
    assert "address already in use" in log.read_text()
    assert _processes_mentioning(state_dir) == []
