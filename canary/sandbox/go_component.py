"""A Go component of the sandbox: a wrapper module in `gomod/` pinning one upstream release.

`GoComponent` says what is taken from the pinned module (binaries built from its packages, CRD
files copied out of it) and where its build is cached: the digest covers the wrapper's go.mod,
go.sum, Go files and build flags, so changing a pin never reuses a stale build.

Data only: building and copying are `canary.sandbox.binaries`' work.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

GOMOD_ROOT = Path(__file__).parent / "gomod"


@dataclass(frozen=True)
class GoComponent:
    """One wrapper module and the binaries built from it: (Go package, binary name) pairs.

    A component with no packages builds nothing: its module only ships files (the CRDs of
    Gateway API, KEDA and the providers, copied from `crd_files`; `canary.sandbox.crd_components`).
    """

    name: str
    version: str
    packages: tuple[tuple[str, str], ...]
    tags: str = ""
    ldflags: str = "-s -w"
    source: Path | None = None  # the wrapper module's directory; default gomod/<name>
    module: str = ""  # the pinned upstream module; default: the first package, up to /cmd/
    crd_files: tuple[str, ...] = ()  # CRD files copied out of the module into crds/, unchanged

    @property
    def upstream(self) -> str:
        return self.module or self.packages[0][0].split("/cmd/")[0]

    @property
    def module_dir(self) -> Path:
        return self.source if self.source is not None else GOMOD_ROOT / self.name

    @property
    def sources(self) -> tuple[Path, ...]:
        """The Go files of the module itself (a wrapper that pins an upstream has none)."""
        return tuple(sorted(self.module_dir.glob("*.go")))

    def digest(self) -> str:
        sha = hashlib.sha256()
        for file in ("go.mod", "go.sum"):
            sha.update((self.module_dir / file).read_bytes())
        for source in self.sources:
            sha.update(source.name.encode() + b"\0" + source.read_bytes())
        sha.update(f"{self.packages}|{self.tags}|{self.ldflags}".encode())
        if self.crd_files:  # only then: the other components' cache directories stay the same
            sha.update(f"|{self.crd_files}".encode())
        return sha.hexdigest()[:10]

    def cache_dir(self, cache_root: Path) -> Path:
        return cache_root / f"{self.name}-{self.version}-{self.digest()}"
