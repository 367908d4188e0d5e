"""The command line of every sandbox component: which flags, and why (pure; starts nothing).

The flags follow docs/sandbox.md. Each function takes the ports and files it needs and returns an
argv list, so the whole cluster's configuration can be read in one place; `environment` gives the
variables a component runs with.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from canary.sandbox.binaries import Binaries
from canary.sandbox.pki import SERVICE_CLUSTER_IP_RANGE, PkiFiles
from canary.sandbox.state import Ports

POD_CIDR = "10.244.0.0/16"

# The Go collector's GOGC for the control plane's own processes: a collection starts when the heap
# has grown 400 % over what the last one kept, not Go's default 100 %. With 1000 Canaries the API
# server keeps about 600 MB, and at 100 % it collected every 6 to 7 s while 100 of them released,
# each collection taking about 1.2 s of CPU on the sandbox's two cores, so that one almost always
# ran while a burst of changes was being answered (bench/README.md). A larger heap on a machine
# with memory to spare is the cheaper trade. A GOGC already in the environment is kept.
GO_GC_PERCENT = "400"
GO_COMPONENTS = frozenset(
    {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}
)


@dataclass(frozen=True)
class Layout:
    """Files and directories inside one sandbox's state directory."""

    root: Path

    @property
    def pki(self) -> PkiFiles:
        return PkiFiles.under(self.root / "pki")

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def prometheus_data(self) -> Path:
        return self.root / "prometheus"

    @property
    def prometheus_config(self) -> Path:
        return self.root / "prometheus.yml"

    def log(self, component: str) -> Path:
        return self.root / "logs" / f"{component}.log"


def environment(name: str, inherited: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The environment component `name` runs with: the inherited one, plus GOGC for the
    control plane's Go processes."""
    env = dict(inherited)
    if name in GO_COMPONENTS:
        env.setdefault("GOGC", GO_GC_PERCENT)
    return env


def etcd(binaries: Binaries, ports: Ports, layout: Layout) -> list[str]:
    client = f"http://127.0.0.1:{ports.etcd_client}"
    peer = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(binaries.etcd),
        "--name=sandbox",
        f"--data-dir={layout.etcd_data}",
        f"--listen-client-urls={client}",
        f"--advertise-client-urls={client}",
        f"--listen-peer-urls={peer}",
        f"--initial-advertise-peer-urls={peer}",
        f"--initial-cluster=sandbox={peer}",
        # A throw-away cluster: durability is not worth the fsync latency on a shared disk.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def kube_apiserver(binaries: Binaries, ports: Ports, layout: Layout) -> list[str]:
    pki = layout.pki
    return [
        str(binaries.kube_apiserver),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=127.0.0.1",
        f"--secure-port={ports.apiserver}",
        # A loopback advertise address is rejected unless the endpoint reconciler is off.
        "--advertise-address=127.0.0.1",
        "--endpoint-reconciler-type=none",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.service_account_pub}",
        f"--service-account-signing-key-file={pki.service_account_key}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        "--profiling=false",
    ]


def _kubeconfig_flags(layout: Layout) -> list[str]:
    """The admin kubeconfig, for the API and for delegated auth of the health endpoints."""
    kubeconfig = str(layout.kubeconfig)
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        # One instance of each: nothing to elect, and no lease traffic to slow the API down.
        "--leader-elect=false",
    ]


# The client rate of kube-controller-manager and kube-scheduler: unlimited, as kwokctl's
# --disable-qps-limits sets it (kwok's own client has no limit). With the defaults (20/30 and
# 50/100 requests per second) the sandbox, not the controller under test, is what a burst of
# hundreds of Canaries waits for.
UNLIMITED_CLIENT = ("--kube-api-qps=5000", "--kube-api-burst=10000")


def kube_controller_manager(binaries: Binaries, ports: Ports, layout: Layout) -> list[str]:
    pki = layout.pki
    return [
        str(binaries.kube_controller_manager),
        *_kubeconfig_flags(layout),
        f"--secure-port={ports.controller_manager}",
        # All controllers: Deployments, ReplicaSets, garbage collection, and node lifecycle
        # (which lifts the not-ready taint from kwok's nodes).
        "--controllers=*",
        f"--root-ca-file={pki.ca_cert}",
        f"--service-account-private-key-file={pki.service_account_key}",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        "--profiling=false",
        *UNLIMITED_CLIENT,
        # Hundreds of Deployments created at once (bench/scale.py) roll out in parallel.
        "--concurrent-deployment-syncs=20",
        "--concurrent-replicaset-syncs=20",
    ]


def kube_scheduler(binaries: Binaries, ports: Ports, layout: Layout) -> list[str]:
    return [
        str(binaries.kube_scheduler),
        *_kubeconfig_flags(layout),
        f"--secure-port={ports.scheduler}",
        "--profiling=false",
        *UNLIMITED_CLIENT,
    ]


def kwok(binaries: Binaries, ports: Ports, layout: Layout) -> list[str]:
    return [
        str(binaries.kwok),
        f"--kubeconfig={layout.kubeconfig}",
        f"--config={binaries.kwok_stages}",
        "--manage-all-nodes=true",
        # The heartbeat stage renews node Leases only, and kwok keeps Leases only with a
        # duration set; without one, node-lifecycle marks every node NotReady after ~40 s and
        # pods flap between ready and not ready.
        "--node-lease-duration-seconds=40",
        f"--cidr={POD_CIDR}",
        "--node-ip=10.0.0.1",
        f"--server-address=127.0.0.1:{ports.kwok}",
    ]


def prometheus(binaries: Binaries, ports: Ports, layout: Layout) -> list[str]:
    return [
        str(binaries.prometheus),
        f"--config.file={layout.prometheus_config}",
        f"--storage.tsdb.path={layout.prometheus_data}",
        "--storage.tsdb.retention.time=1d",
        f"--web.listen-address=127.0.0.1:{ports.prometheus}",
        "--web.enable-lifecycle",
    ]


def meshsim(_binaries: Binaries, ports: Ports, layout: Layout) -> list[str]:
    """The mesh simulator runs in this interpreter's environment, which has the package."""
    return [
        sys.executable,
        "-m",
        "canary.sandbox.meshsim",
        f"--kubeconfig={layout.kubeconfig}",
        f"--port={ports.meshsim}",
    ]
