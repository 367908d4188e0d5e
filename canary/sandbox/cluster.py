"""Bring a sandbox up, report on it, and take it down: the orchestration of its processes.

`up` starts the components in dependency order, waits for each to be ready, and records every
process in `state.json` the moment it starts, so that whatever happens next (a failure, a Ctrl-C,
a killed terminal) `down` can find and stop it. A failed `up` stops what it started and keeps the
logs for the error message to point at. `up` on a healthy sandbox changes nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fcntl
import shlex
import shutil
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from canary.kube import resources
from canary.kube.client import api_client
from canary.kube.crds import established
from canary.sandbox import components, crds, nodes, processes
from canary.sandbox.binaries import KUBERNETES_VERSION, Binaries, Report
from canary.sandbox.configs import ScrapeJob, write_kubeconfig, write_prometheus_config
from canary.sandbox.crd_components import CRD_COMPONENTS
from canary.sandbox.errors import SandboxError
from canary.sandbox.pki import create_pki
from canary.sandbox.ports import free_ports, is_listening
from canary.sandbox.readiness import (
    client_ssl_context,
    http_probe,
    insecure_ssl_context,
    wait_until,
)
from canary.sandbox.state import MESHSIM_SCRAPE_INTERVAL, Ports, SandboxState

ArgvBuilder = Callable[[Binaries, Ports, components.Layout], list[str]]

API_SERVER_TIMEOUT = 90.0
COMPONENT_TIMEOUT = 60.0


@contextmanager
def _state_lock(state_dir: Path) -> Iterator[None]:
    """One `up` or `down` at a time per state directory (two test runs may race for it)."""
    state_dir.parent.mkdir(parents=True, exist_ok=True)
    with state_dir.with_name(state_dir.name + ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@dataclass
class _Starter:
    """Starts components one by one, recording each in the state file as it starts."""

    state: SandboxState
    binaries: Binaries
    layout: components.Layout
    report: Report

    def start(self, name: str, builder: ArgvBuilder) -> processes.ProcessRecord:
        argv = builder(self.binaries, self.state.ports, self.layout)
        record = processes.start(
            name,
            argv,
            log=self.layout.log(name),
            cwd=self.layout.root,
            env=components.environment(name),
        )
        self.state = dataclasses.replace(self.state, processes=(*self.state.processes, record))
        self.state.save()
        return record

    def ready(self, part: str, seconds: float) -> None:
        self.report(f"{part} ready in {seconds:.1f} s")


def _outdated(state: SandboxState) -> bool:
    """Recorded by a version of `up` from before the mesh simulator was part of the sandbox, or
    that installed other upstream CRDs (Gateway API's, KEDA's, a provider's) than this one."""
    return state.ready and (
        not any(p.name == "meshsim" for p in state.processes)
        or dict(state.crd_versions) != crd_versions()
    )


def crd_versions() -> dict[str, str]:
    """Component -> the release whose CRDs `up` installs."""
    return {c.name: c.version for c in CRD_COMPONENTS}


def is_up(state: SandboxState) -> bool:
    """Every recorded process runs, the sandbox finished starting, and it is not outdated."""
    return (
        state.ready
        and not _outdated(state)
        and all(processes.is_running(p) for p in state.processes)
    )


def up(
    state_dir: Path,
    binaries: Binaries,
    report: Report,
    *,
    scrape_interval: str = MESHSIM_SCRAPE_INTERVAL,
) -> SandboxState:
    """Start a sandbox in `state_dir`, or return the one already running there. Prometheus
    scrapes the mesh simulator every `scrape_interval` (a Prometheus duration)."""
    with _state_lock(state_dir):
        existing = SandboxState.load(state_dir)
        if existing is not None and is_up(existing):
            report(f"sandbox already up at {existing.api_server_url}; nothing changed")
            if existing.scrape_interval != scrape_interval:
                report(
                    f"its Prometheus scrapes the mesh simulator every {existing.scrape_interval}, "
                    f"not {scrape_interval}: `canary sandbox down` first to change that"
                )
            return existing
        if existing is not None:
            what = "from an older version" if _outdated(existing) else "that is not fully running"
            report(f"found a sandbox {what}; stopping it and starting afresh")
            _stop_all(existing)
        shutil.rmtree(state_dir, ignore_errors=True)
        state_dir.mkdir(parents=True)
        started = time.monotonic()
        starter = _Starter(
            _initial_state(state_dir, binaries, scrape_interval=scrape_interval),
            binaries,
            components.Layout(state_dir),
            report,
        )
        try:
            asyncio.run(_start_cluster(starter))
        except BaseException:
            _stop_all(starter.state)
            (state_dir / "state.json").unlink(missing_ok=True)
            raise
        state = dataclasses.replace(starter.state, ready=True)
        state.save()
        report(f"sandbox up in {time.monotonic() - started:.1f} s at {state.api_server_url}")
        return state


def _initial_state(state_dir: Path, binaries: Binaries, *, scrape_interval: str) -> SandboxState:
    ports = Ports.from_list(free_ports(Ports.count()))
    return SandboxState(
        directory=str(state_dir),
        ports=ports,
        kubeconfig=str(components.Layout(state_dir).kubeconfig),
        prometheus_url=f"http://127.0.0.1:{ports.prometheus}",
        bin_dirs=tuple(str(d) for d in binaries.bin_dirs),
        kubernetes_version=KUBERNETES_VERSION,
        crd_versions=crd_versions(),
        scrape_interval=scrape_interval,
    )


async def _start_cluster(starter: _Starter) -> None:
    layout, ports = starter.layout, starter.state.ports
    pki = create_pki(layout.root / "pki")
    async with aiohttp.ClientSession() as session:
        etcd = starter.start("etcd", components.etcd)
        url = f"http://127.0.0.1:{ports.etcd_client}/health"
        starter.ready(
            "etcd",
            await wait_until(
                "start etcd", http_probe(session, url), within=COMPONENT_TIMEOUT, process=etcd
            ),
        )

        apiserver = starter.start("kube-apiserver", components.kube_apiserver)
        admin_tls = client_ssl_context(ca=pki.ca_cert, cert=pki.admin_cert, key=pki.admin_key)
        url = f"https://127.0.0.1:{ports.apiserver}/readyz"
        probe = http_probe(session, url, ssl_context=admin_tls)
        seconds = await wait_until(
            "start kube-apiserver", probe, within=API_SERVER_TIMEOUT, process=apiserver
        )
        starter.ready("kube-apiserver", seconds)
        write_kubeconfig(layout.kubeconfig, server=f"https://127.0.0.1:{ports.apiserver}", pki=pki)

        self_signed = insecure_ssl_context()
        waits = [
            (
                "SMI and Gloo CRDs",
                _install_crds(
                    starter,
                    apiserver,
                    [crds.TRAFFIC_SPLIT_CRD, crds.HTTP_ROUTE_GROUP_CRD, crds.GLOO_CRDS],
                ),
            ),
            *(
                (f"{c.name} {c.version} CRDs", _install_crds(starter, apiserver, paths))
                for c in CRD_COMPONENTS
                if (paths := starter.binaries.upstream_crds.get(c.name))
            ),
        ]
        for name, builder, port in (
            (
                "kube-controller-manager",
                components.kube_controller_manager,
                ports.controller_manager,
            ),
            ("kube-scheduler", components.kube_scheduler, ports.scheduler),
            ("kwok", components.kwok, ports.kwok),
            ("meshsim", components.meshsim, ports.meshsim),
        ):
            record = starter.start(name, builder)
            plain = name in {"kwok", "meshsim"}
            scheme, tls = ("http", False) if plain else ("https", self_signed)
            probe = http_probe(session, f"{scheme}://127.0.0.1:{port}/healthz", ssl_context=tls)
            waits.append(
                (
                    name,
                    wait_until(f"start {name}", probe, within=COMPONENT_TIMEOUT, process=record),
                )
            )
        for name, seconds in zip(
            (n for n, _ in waits), await _gather(w for _, w in waits), strict=True
        ):
            starter.ready(name, seconds)

        write_prometheus_config(
            layout.prometheus_config,
            jobs=[
                ScrapeJob("prometheus", f"127.0.0.1:{ports.prometheus}"),
                ScrapeJob(
                    "meshsim", f"127.0.0.1:{ports.meshsim}", interval=starter.state.scrape_interval
                ),
            ],
        )
        prometheus = starter.start("prometheus", components.prometheus)
        prometheus_ready = wait_until(
            "start prometheus",
            http_probe(session, f"http://127.0.0.1:{ports.prometheus}/-/ready"),
            within=COMPONENT_TIMEOUT,
            process=prometheus,
        )
        cluster_ready = _wait_workloads_schedulable(starter)
        prometheus_seconds, _ = await _gather([prometheus_ready, cluster_ready])
        starter.ready("prometheus", prometheus_seconds)


async def _install_crds(
    starter: _Starter, apiserver: processes.ProcessRecord, paths: Iterable[Path]
) -> float:
    """CRDs (SMI's, Gateway API's, KEDA's, Istio's), created (or replaced) together and served."""
    started = time.monotonic()
    manifests = await asyncio.to_thread(lambda: [m for path in paths for m in crds.load_all(path)])
    async with api_client(Path(starter.state.kubeconfig)) as client:

        async def install(manifest: dict[str, Any]) -> float:
            name = manifest["metadata"]["name"]
            await resources.apply(client, manifest)
            return await wait_until(
                f"establish CRD {name}",
                lambda: established(client, name),
                within=COMPONENT_TIMEOUT,
                process=apiserver,
            )

        await _gather(install(m) for m in manifests)
    return time.monotonic() - started


async def _wait_workloads_schedulable(starter: _Starter) -> float:
    """Fake nodes Ready and untainted, and the `default` ServiceAccount created."""
    names = nodes.node_names()
    async with api_client(Path(starter.state.kubeconfig)) as client:
        await nodes.create_nodes(client, names)
        kwok = next(p for p in starter.state.processes if p.name == "kwok")
        seconds = await wait_until(
            "fake nodes Ready and untainted",
            lambda: nodes.nodes_ready(client, names),
            within=COMPONENT_TIMEOUT,
            process=kwok,
        )
        starter.ready(f"{len(names)} fake nodes", seconds)
        manager = next(p for p in starter.state.processes if p.name == "kube-controller-manager")
        seconds = await wait_until(
            "default ServiceAccount created",
            lambda: nodes.default_service_account_exists(client),
            within=COMPONENT_TIMEOUT,
            process=manager,
        )
        starter.ready("default ServiceAccount", seconds)
        return seconds


async def _gather(waits: Iterable[Coroutine[Any, Any, float]]) -> list[float]:
    """Run waits together; the first failure cancels the rest and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(w) for w in waits]
    except ExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [t.result() for t in tasks]


def _stop_all(state: SandboxState) -> None:
    """Stop recorded processes, newest first (Prometheus and kwok before the API, etcd last)."""
    for record in reversed(state.processes):
        processes.stop(record)


def down(state_dir: Path, report: Report) -> None:
    """Stop everything the sandbox in `state_dir` runs and remove its files."""
    with _state_lock(state_dir):
        state = SandboxState.load(state_dir)
        if state is None:
            report(f"no sandbox recorded in {state_dir}")
        else:
            started = time.monotonic()
            _stop_all(state)
            listening = [port for port in dataclasses.astuple(state.ports) if is_listening(port)]
            if listening:
                raise SandboxError("down", f"ports still listening after stopping: {listening}")
            report(f"sandbox stopped in {time.monotonic() - started:.1f} s")
        shutil.rmtree(state_dir, ignore_errors=True)


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int
    running: bool
    log: str


def status(state: SandboxState) -> list[ComponentStatus]:
    return [
        ComponentStatus(name=p.name, pid=p.pid, running=processes.is_running(p), log=p.log)
        for p in state.processes
    ]


def env_exports(state: SandboxState) -> str:
    """Shell exports for `eval "$(canary sandbox env)"`: kubectl, helm and the controller."""
    path = ":".join(state.bin_dirs)
    return "\n".join(
        [
            f"export KUBECONFIG={shlex.quote(state.kubeconfig)}",
            f"export CANARY_PROMETHEUS_URL={shlex.quote(state.prometheus_url)}",
            f'export PATH={shlex.quote(path)}:"$PATH"',
        ]
    )
