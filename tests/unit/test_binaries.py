"""Build pins: the cache key follows the pinned modules and flags; versions are stamped in."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from canary.sandbox.binaries import (
    COMPONENTS,
    KUBERNETES_VERSION,
    build_go_component,
    cached_binaries,
)
from canary.sandbox.errors import SandboxError
from canary.sandbox.go_component import GOMOD_ROOT, GoComponent


def _kubernetes() -> object:
    return next(c for c in COMPONENTS if c.name == "kubernetes")


def test_every_component_has_a_committed_wrapper_module() -> None:
    for component in COMPONENTS:
        go_mod = (GOMOD_ROOT / component.name / "go.mod").read_text()
        assert (GOMOD_ROOT / component.name / "go.sum").stat().st_size > 0
        upstream = component.upstream
        assert re.search(
            rf"^\s*(require )?{re.escape(upstream)} {re.escape(component.version)}", go_mod, re.M
        ), component.name


def test_kubernetes_staging_modules_use_the_matching_published_tags() -> None:
    go_mod = (GOMOD_ROOT / "kubernetes" / "go.mod").read_text()
    staging = re.findall(r"^\s*(k8s\.io/[\w-]+) => (k8s\.io/[\w-]+) (v\S+)$", go_mod, re.M)
    assert len(staging) >= 30
    expected_tag = "v0." + KUBERNETES_VERSION.split(".", 1)[1]
    assert {tag for _, _, tag in staging} == {expected_tag}
    assert all(source == target for source, target, _ in staging)


def test_the_real_version_is_stamped_into_client_and_server() -> None:
    component = next(c for c in COMPONENTS if c.name == "kubernetes")
    for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {package}.gitVersion={KUBERNETES_VERSION}" in component.ldflags
        assert f"-X {package}.gitMinor=36" in component.ldflags


def test_cache_key_changes_with_build_flags(tmp_path: Path) -> None:
    component = next(c for c in COMPONENTS if c.name == "kubernetes")
    other = dataclasses.replace(component, tags="selinux")
    assert component.cache_dir(tmp_path) != other.cache_dir(tmp_path)
    assert component.cache_dir(tmp_path).name.startswith(f"kubernetes-{KUBERNETES_VERSION}-")


def test_an_empty_cache_has_no_binaries(tmp_path: Path) -> None:
    assert cached_binaries(tmp_path) is None


def test_a_failed_build_names_the_component_and_its_log(tmp_path: Path) -> None:
    module = tmp_path / "module"
    module.mkdir()
    (module / "go.mod").write_text("module canary.dev/sandbox/broken\n\ngo 1.26.0\n")
    (module / "go.sum").write_text("")
    broken = GoComponent(
        name="broken",
        version="v0.0.1",
        packages=(("example.invalid/does-not-exist/cmd/nothing", "nothing"),),
        source=module,
    )
    cache = tmp_path / "cache"
    cache.mkdir()
    with pytest.raises(SandboxError) as failure:
        build_go_component(broken, cache, lambda _message: None)
    log = cache / "logs" / "build-broken.log"
    assert str(failure.value) == f"build broken v0.0.1: `go build` exited with 1 (log: {log})"
    assert "example.invalid/does-not-exist" in log.read_text()
    assert not broken.cache_dir(cache).exists()
