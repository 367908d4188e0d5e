"""Build the sandbox's binaries from pinned Go modules, once, into a cache outside the checkout.

Each component is a wrapper Go module in `gomod/` that pins one upstream release
(`canary.sandbox.go_component`): the control plane's programs are listed here, the modules that
only ship CRDs in `canary.sandbox.crd_components`. A build goes into
`<cache>/<component>-<version>-<digest>/`, where the digest covers the wrapper's go.mod, go.sum,
Go files (a test instrument has its own main package; `ensure_go_program`) and build flags, so
changing a pin builds afresh and never reuses a stale binary. Builds write to a
temporary directory and are renamed into place only when complete; a lock file serialises
concurrent builds (two test runs, or CI and a developer, on one machine). Prometheus comes from
Debian's package, unpacked rather than installed, so no system service starts.

This module must not start anything: it only produces files.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from canary.sandbox.crd_components import CRD_COMPONENTS
from canary.sandbox.errors import SandboxError
from canary.sandbox.go_component import GoComponent

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
HELM_VERSION = "v3.22.0"
# Debian bookworm's package; the cache holds whichever 2.42 build apt offers.
PROMETHEUS_SERIES = "2.42."

# The stage definitions that make kwok behave like a fast kubelet, in the order kwok applies them.
KWOK_STAGE_FILES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)

Report = Callable[[str], None]


def _version_ldflags(version: str) -> str:
    """Stamp the real release into the binaries, or the API server reports v0.0.0-master."""
    major, minor = version.lstrip("v").split(".")[:2]
    fields = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
    }
    flags = [
        f"-X {package}.{key}={value}"
        for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
        for key, value in fields.items()
    ]
    return " ".join(["-s", "-w", *flags])


COMPONENTS = (
    GoComponent(
        name="etcd",
        version=ETCD_VERSION,
        packages=(("go.etcd.io/etcd/server/v3", "etcd"),),
    ),
    GoComponent(
        name="kubernetes",
        version=KUBERNETES_VERSION,
        packages=tuple(
            (f"k8s.io/kubernetes/cmd/{binary}", binary)
            for binary in (
                "kube-apiserver",
                "kube-controller-manager",
                "kube-scheduler",
                "kubectl",
            )
        ),
        tags="selinux,notest",
        ldflags=_version_ldflags(KUBERNETES_VERSION),
    ),
    GoComponent(
        name="kwok",
        version=KWOK_VERSION,
        packages=(("sigs.k8s.io/kwok/cmd/kwok", "kwok"),),
    ),
    GoComponent(
        name="helm",
        version=HELM_VERSION,
        packages=(("helm.sh/helm/v3/cmd/helm", "helm"),),
    ),
    *CRD_COMPONENTS,
)


@dataclass(frozen=True)
class Binaries:
    """Where every executable the sandbox runs lives, plus kwok's stage definitions."""

    etcd: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    kwok: Path
    kwok_stages: Path
    helm: Path
    prometheus: Path
    # Component name -> the CRD files copied out of its pinned module, installed by `sandbox up`.
    upstream_crds: Mapping[str, tuple[Path, ...]]

    @property
    def gateway_api_crds(self) -> tuple[Path, ...]:
        return self.upstream_crds["gateway-api"]

    @property
    def keda_crds(self) -> tuple[Path, ...]:
        return self.upstream_crds["keda"]

    @property
    def bin_dirs(self) -> tuple[Path, ...]:
        """Directories to put on PATH so `kubectl` and `helm` are the sandbox's own."""
        return tuple(dict.fromkeys((self.kubectl.parent, self.helm.parent)))


def default_cache_root() -> Path:
    if explicit := os.environ.get("CANARY_CACHE_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "canary"


def cached_binaries(cache_root: Path) -> Binaries | None:
    """The binaries if every component is already built, without building anything."""
    dirs = {c.name: c.cache_dir(cache_root) for c in COMPONENTS}
    prometheus = _cached_prometheus(cache_root)
    if prometheus is None or not all((d / ".complete").exists() for d in dirs.values()):
        return None
    kube = dirs["kubernetes"] / "bin"
    return Binaries(
        etcd=dirs["etcd"] / "bin" / "etcd",
        kube_apiserver=kube / "kube-apiserver",
        kube_controller_manager=kube / "kube-controller-manager",
        kube_scheduler=kube / "kube-scheduler",
        kubectl=kube / "kubectl",
        kwok=dirs["kwok"] / "bin" / "kwok",
        kwok_stages=dirs["kwok"] / "stages.yaml",
        helm=dirs["helm"] / "bin" / "helm",
        prometheus=prometheus / "bin" / "prometheus",
        upstream_crds={
            c.name: tuple(dirs[c.name] / "crds" / Path(name).name for name in c.crd_files)
            for c in COMPONENTS
            if c.crd_files
        },
    )


def ensure_go_program(component: GoComponent, cache_root: Path, report: Report) -> Path:
    """The cache directory of one Go program outside the sandbox's set (a test instrument),
    built first if missing, under the same lock as the sandbox's builds."""
    final = component.cache_dir(cache_root)
    if (final / ".complete").exists():
        return final
    cache_root.mkdir(parents=True, exist_ok=True)
    with _build_lock(cache_root):
        if not (final / ".complete").exists():
            build_go_component(component, cache_root, report)
    return final


def ensure_binaries(cache_root: Path, report: Report) -> Binaries:
    """Build whatever is missing (minutes, once per version) and return every binary's path."""
    if (ready := cached_binaries(cache_root)) is not None:
        return ready
    cache_root.mkdir(parents=True, exist_ok=True)
    with _build_lock(cache_root):
        for component in COMPONENTS:
            if not (component.cache_dir(cache_root) / ".complete").exists():
                build_go_component(component, cache_root, report)
        if _cached_prometheus(cache_root) is None:
            _unpack_prometheus(cache_root, report)
    ready = cached_binaries(cache_root)
    if ready is None:  # pragma: no cover - every branch above either builds or raises
        raise SandboxError("build", f"binaries missing from {cache_root} after building")
    return ready


@contextmanager
def _build_lock(cache_root: Path) -> Iterator[None]:
    with (cache_root / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_logged(argv: list[str], *, cwd: Path, log: Path, step: str, env: dict[str, str]) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(
            argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env, check=False
        )
    if result.returncode != 0:
        raise SandboxError(step, f"`{argv[0]} {argv[1]}` exited with {result.returncode}", log=log)


def _go_env() -> dict[str, str]:
    if shutil.which("go") is None:
        raise SandboxError("build", "the Go toolchain (`go`, 1.26 or newer) is not on PATH")
    return {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}


def build_go_component(component: GoComponent, cache_root: Path, report: Report) -> None:
    """Build one component into its cache directory; a failure names the step and the log."""
    final = component.cache_dir(cache_root)
    work = final.with_name(final.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    (work / "bin").mkdir(parents=True)
    for file in ("go.mod", "go.sum"):
        shutil.copyfile(component.module_dir / file, work / file)
    for source in component.sources:
        shutil.copyfile(source, work / source.name)
    log = cache_root / "logs" / f"build-{component.name}.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    report(f"building {component.name} {component.version} from Go modules (first use); log: {log}")
    started = time.monotonic()
    env = _go_env()
    step = f"build {component.name} {component.version}"
    argv = ["go", "build", "-trimpath", f"-ldflags={component.ldflags}"]
    if component.tags:
        argv.append(f"-tags={component.tags}")
    if len(component.packages) == 1:
        package, binary = component.packages[0]
        argv += ["-o", str(work / "bin" / binary), package]
    else:
        argv += ["-o", str(work / "bin") + "/", *(package for package, _ in component.packages)]
    if component.packages:
        _run_logged(argv, cwd=work, log=log, step=step, env=env)
    else:
        argv = ["go", "mod", "download", component.upstream]
        _run_logged(argv, cwd=work, log=log, step=f"download {component.name}", env=env)
    if component.name == "kwok":
        _write_kwok_stages(work, log=log, env=env)
    if component.crd_files:
        _copy_crds(component, work, log=log, env=env)
    (work / ".complete").write_text(f"{component.version}\n")
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    report(f"built {component.name} {component.version} in {time.monotonic() - started:.0f} s")


def _module_dir(work: Path, module: str, *, log: Path, env: dict[str, str], step: str) -> Path:
    """Where the Go module cache holds `module`'s source (as pinned by the wrapper in `work`)."""
    argv = ["go", "list", "-m", "-f", "{{.Dir}}", module]
    result = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, check=False)
    module_dir = Path(result.stdout.strip())
    if result.returncode != 0 or not result.stdout.strip() or not module_dir.is_dir():
        with log.open("a") as out:
            out.write(result.stderr)
        raise SandboxError(step, f"cannot locate the source of module {module}", log=log)
    return module_dir


def _write_kwok_stages(work: Path, *, log: Path, env: dict[str, str]) -> None:
    """Copy the stages shipped in kwok's module: without them kwok does nothing at all."""
    step = "build kwok stages"
    module_dir = _module_dir(work, "sigs.k8s.io/kwok", log=log, env=env, step=step)
    documents = [(module_dir / name).read_text().strip() for name in KWOK_STAGE_FILES]
    (work / "stages.yaml").write_text("\n---\n".join(documents) + "\n")


def _copy_crds(component: GoComponent, work: Path, *, log: Path, env: dict[str, str]) -> None:
    """Copy the component's CRD files out of its pinned module, unchanged."""
    step = f"copy {component.name} CRDs"
    module_dir = _module_dir(work, component.upstream, log=log, env=env, step=step)
    (work / "crds").mkdir()
    for name in component.crd_files:
        source = module_dir / name
        if not source.is_file():
            raise SandboxError(step, f"{name} is missing from {module_dir}", log=log)
        shutil.copyfile(source, work / "crds" / source.name)


def _cached_prometheus(cache_root: Path) -> Path | None:
    candidates = sorted(cache_root.glob(f"prometheus-{PROMETHEUS_SERIES}*"))
    complete = [c for c in candidates if (c / ".complete").exists()]
    return complete[-1] if complete else None


def _unpack_prometheus(cache_root: Path, report: Report) -> None:
    log = cache_root / "logs" / "build-prometheus.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    work = cache_root / "prometheus.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    report(f"fetching Prometheus from Debian's package; log: {log}")
    env = dict(os.environ)
    hint = "; if apt has no package lists yet, run `apt-get update` as root"
    try:
        _run_logged(
            ["apt-get", "download", "prometheus"],
            cwd=work,
            log=log,
            step="fetch prometheus",
            env=env,
        )
    except SandboxError as error:
        raise SandboxError("fetch prometheus", str(error) + hint, log=log) from error
    debs = list(work.glob("prometheus_*.deb"))
    match = re.match(r"prometheus_([^_]+)_", debs[0].name) if debs else None
    if match is None or not match.group(1).startswith(PROMETHEUS_SERIES):
        raise SandboxError("fetch prometheus", f"expected a {PROMETHEUS_SERIES}x package", log=log)
    version = match.group(1).replace("%3a", ":")
    _run_logged(
        ["dpkg-deb", "-x", str(debs[0]), "root"],
        cwd=work,
        log=log,
        step="unpack prometheus",
        env=env,
    )
    (work / "bin").mkdir()
    shutil.move(work / "root" / "usr" / "bin" / "prometheus", work / "bin" / "prometheus")
    shutil.rmtree(work / "root")
    debs[0].unlink()
    (work / ".complete").write_text(f"{version}\n")
    final = cache_root / f"prometheus-{version}"
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    report(f"unpacked Prometheus {version}")
