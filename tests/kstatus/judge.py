"""Ask the real kstatus library (sigs.k8s.io/cli-utils/pkg/kstatus/status) what it makes of
objects, as Flux's health checks do; or what the Argo CD health script the project ships
(examples/argocd/canary-health.lua) says, run by gopher-lua as Argo CD runs it.

The Go program beside this file (main.go, pinned by go.mod/go.sum) is built once with the Go
toolchain the sandbox already needs, into the shared cache outside the checkout
(canary.sandbox.binaries, keyed by a digest of go.mod, go.sum and main.go). It reads objects as
JSON lines on stdin and answers one JSON line each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from canary.sandbox.binaries import default_cache_root, ensure_go_program
from canary.sandbox.go_component import GoComponent

CLI_UTILS_VERSION: Final = "v0.37.2"
ARGOCD_HEALTH: Final = Path(__file__).resolve().parents[2] / "examples/argocd/canary-health.lua"
JUDGE: Final = GoComponent(
    name="kstatus-judge",
    version=CLI_UTILS_VERSION,
    packages=((".", "kstatus"),),
    source=Path(__file__).resolve().parent,
    module="sigs.k8s.io/cli-utils",
)


@dataclass(frozen=True)
class Reading:
    """kstatus's verdict: Current, InProgress, Failed, Terminating, ... and its message."""

    status: str
    message: str


class Judge:
    def __init__(self, binary: Path) -> None:
        self.binary = binary

    def read(self, obj: Mapping[str, Any]) -> Reading:
        return self.read_all([obj])[0]

    def read_all(self, objects: Sequence[Mapping[str, Any]]) -> list[Reading]:
        """kstatus's reading of each object (Current, InProgress, Failed, Terminating)."""
        return self._run(objects)

    def argocd_all(self, objects: Sequence[Mapping[str, Any]]) -> list[Reading]:
        """Argo CD's health of each object with the shipped health script (Healthy,
        Progressing, Degraded)."""
        return self._run(objects, f"-argocd-health={ARGOCD_HEALTH}")

    def _run(self, objects: Sequence[Mapping[str, Any]], *flags: str) -> list[Reading]:
        lines = "".join(json.dumps(obj) + "\n" for obj in objects)
        done = subprocess.run(
            [str(self.binary), *flags],
            input=lines,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, f"{self.binary} exited with {done.returncode}: {done.stderr}"
        answers = [json.loads(line) for line in done.stdout.splitlines()]
        assert len(answers) == len(objects), done.stdout
        for answer in answers:
            assert "error" not in answer, answer["error"]
        return [Reading(a["status"], a.get("message", "")) for a in answers]


def build_judge() -> Judge:
    def report(message: str) -> None:
        print(f"kstatus judge: {message}", file=sys.stderr, flush=True)

    directory = ensure_go_program(JUDGE, default_cache_root(), report)
    return Judge(directory / "bin" / "kstatus")
