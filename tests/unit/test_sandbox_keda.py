"""The sandbox installs KEDA's ScaledObject CRD from the pinned KEDA module, unchanged, and a
sandbox started without it (or with another KEDA release) is restarted by `up`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from canary.sandbox import binaries, cluster, crd_components, crds
from canary.sandbox.processes import ProcessRecord
from canary.sandbox.state import Ports, SandboxState


def test_the_keda_module_is_pinned_and_ships_the_scaled_object_crd() -> None:
    component = next(c for c in crd_components.CRD_COMPONENTS if c.name == "keda")
    assert component.packages == ()
    assert component.upstream == "github.com/kedacore/keda/v2"
    assert component.version == crd_components.KEDA_VERSION
    assert component.crd_files == ("config/crd/bases/keda.sh_scaledobjects.yaml",)
    go_mod = (component.module_dir / "go.mod").read_text()
    assert f"github.com/kedacore/keda/v2 {crd_components.KEDA_VERSION}" in go_mod


def test_cached_keda_crds_load_as_the_scaled_object_crd() -> None:
    built = binaries.cached_binaries(binaries.default_cache_root())
    if built is None:
        pytest.skip("the sandbox's binaries are not built")
    (loaded,) = [crds.load(path) for path in built.keda_crds]
    assert loaded["kind"] == "CustomResourceDefinition"
    assert loaded["metadata"]["name"] == "scaledobjects.keda.sh"
    assert [v["name"] for v in loaded["spec"]["versions"]] == ["v1alpha1"]


def test_a_sandbox_without_kedas_crds_is_not_up(tmp_path: Path) -> None:
    running = ProcessRecord(name="meshsim", pid=1, start_ticks=0, log="", argv=("meshsim",))
    current = SandboxState(
        directory=str(tmp_path),
        ports=Ports(*range(42000, 42000 + Ports.count())),
        kubeconfig=str(tmp_path / "kubeconfig"),
        prometheus_url="http://127.0.0.1:42006",
        bin_dirs=(),
        kubernetes_version=binaries.KUBERNETES_VERSION,
        processes=(running,),
        crd_versions=cluster.crd_versions(),
        ready=True,
    )
    assert not cluster._outdated(current)
    assert cluster.crd_versions()["keda"] == crd_components.KEDA_VERSION
    assert cluster.crd_versions()["gateway-api"] == crd_components.GATEWAY_API_VERSION
    without = {k: v for k, v in current.crd_versions.items() if k != "keda"}
    assert cluster._outdated(dataclasses.replace(current, crd_versions=without))
    older = {**current.crd_versions, "keda": "v2.0.0"}
    assert cluster._outdated(dataclasses.replace(current, crd_versions=older))
