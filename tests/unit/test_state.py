"""The state record survives a round trip, and ports are distinct and free."""

from __future__ import annotations

import dataclasses
import json
import socket
from pathlib import Path

from canary.sandbox.ports import free_ports, is_listening
from canary.sandbox.processes import ProcessRecord
from canary.sandbox.state import MESHSIM_SCRAPE_INTERVAL, STATE_FILE, Ports, SandboxState


def _recorded(tmp_path: Path) -> SandboxState:
    """A ready sandbox's record, with every field set apart from the defaults, saved."""
    state = SandboxState(
        directory=str(tmp_path),
        ports=Ports.from_list(list(range(40000, 40000 + Ports.count()))),
        kubeconfig=str(tmp_path / "kubeconfig"),
        prometheus_url="http://127.0.0.1:40006",
        bin_dirs=("/a/bin", "/b/bin"),
        kubernetes_version="v1.36.3",
        processes=(ProcessRecord("etcd", 42, 7, "/x/etcd.log", ("etcd", "--name=x")),),
        ready=True,
        scrape_interval="15s",
    )
    state.save()
    return state


def test_state_round_trips_through_its_file(tmp_path: Path) -> None:
    state = _recorded(tmp_path)
    assert SandboxState.load(tmp_path) == state


def test_a_record_from_before_the_scrape_interval_reads_as_the_default(tmp_path: Path) -> None:
    state = _recorded(tmp_path)
    path = tmp_path / STATE_FILE
    older = json.loads(path.read_text())
    del older["scrape_interval"]
    path.write_text(json.dumps(older))
    assert SandboxState.load(tmp_path) == dataclasses.replace(
        state, scrape_interval=MESHSIM_SCRAPE_INTERVAL
    )
    assert MESHSIM_SCRAPE_INTERVAL == "1s"


def test_no_state_file_means_no_sandbox(tmp_path: Path) -> None:
    assert SandboxState.load(tmp_path) is None


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(Ports.count())
    assert len(set(ports)) == Ports.count()
    for port in ports:
        assert not is_listening(port)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_is_listening_sees_a_listener() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert is_listening(sock.getsockname()[1])
