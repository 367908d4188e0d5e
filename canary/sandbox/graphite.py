"""Graphite-web from Debian's packages, unpacked into the cache, for the Graphite provider's tests.

graphite-web is a Django application run by Debian's own Python (`/usr/bin/python3`). Like
Prometheus (binaries.py), its packages are downloaded with `apt-get download` and unpacked with
`dpkg-deb -x` into `<cache>/graphite-web-<version>/`, never installed: no system service, no
file outside the cache. `PACKAGES` is graphite-web with the dependencies a Debian bookworm
machine lacks by default; `python_path` is what to put on PYTHONPATH to import `graphite`,
`django` and `whisper` from it.

This module must not start anything: it only produces files (the test fixture runs the server).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Final

from canary.sandbox.errors import SandboxError

# graphite-web and what it needs beyond a stock bookworm with python3 and libcairo2.
PACKAGES: Final = (
    "graphite-web",
    "python3-whisper",
    "python3-django",
    "python3-django-tagging",
    "python3-asgiref",
    "python3-sqlparse",
    "python3-tz",
    "python3-simplejson",
    "python3-urllib3",
    "python3-cairocffi",
    "python3-cffi",
    "python3-xcffib",
    "python3-pycparser",
    "python3-ply",
    "python3-cairo",
)
SYSTEM_PYTHON: Final = Path("/usr/bin/python3")
_SITE: Final = Path("root/usr/lib/python3/dist-packages")

Report = Callable[[str], None]


def python_path(root: Path) -> Path:
    """The directory holding `graphite`, `django` and `whisper` in an unpacked cache entry."""
    return root / _SITE


def cached_graphite(cache_root: Path) -> Path | None:
    """The newest complete unpacked graphite-web in the cache, or None."""
    complete = [c for c in sorted(cache_root.glob("graphite-web-*")) if (c / ".complete").exists()]
    return complete[-1] if complete else None


def ensure_graphite(cache_root: Path, report: Report) -> Path:
    """The unpacked graphite-web, fetching and unpacking it first if the cache has none."""
    if (ready := cached_graphite(cache_root)) is not None:
        return ready
    log = cache_root / "logs" / "fetch-graphite-web.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    work = cache_root / "graphite-web.partial"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    report(f"fetching graphite-web from Debian's packages; log: {log}")
    _run(["apt-get", "download", *PACKAGES], cwd=work, log=log, step="fetch graphite-web")
    debs = sorted(work.glob("*.deb"))
    version = next(
        (m.group(1) for deb in debs if (m := re.match(r"graphite-web_([^_]+)_", deb.name))), None
    )
    if version is None:
        raise SandboxError("fetch graphite-web", "apt-get download gave no graphite-web", log=log)
    for deb in debs:
        _run(["dpkg-deb", "-x", deb.name, "root"], cwd=work, log=log, step="unpack graphite-web")
        deb.unlink()
    version = version.replace("%3a", ":")
    (work / ".complete").write_text(f"{version}\n")
    final = cache_root / f"graphite-web-{version}"
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    report(f"unpacked graphite-web {version}")
    return final


def _run(argv: list[str], *, cwd: Path, log: Path, step: str) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        hint = "; if apt has no package lists yet, run `apt-get update` as root"
        raise SandboxError(
            step, f"`{argv[0]} {argv[1]}` exited with {result.returncode}{hint}", log=log
        )
