"""The README's first command: `canary demo` promotes a healthy release and rolls back a bad one.

It runs as a user runs it, as its own process with its own sandbox (beside the suite's), and
must exit 0 only when both outcomes happened.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.usefixtures("sandbox")  # binaries built; a second sandbox runs beside the shared one
def test_the_demo_promotes_one_release_and_rolls_back_the_other(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "canary.cli.main", "demo", "--dir", str(tmp_path / "box"), "--down"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "promoted" in result.stdout
    assert "rolled back" in result.stdout
    assert "both releases ended as they should" in result.stdout
    assert "Rolling back revision" in result.stdout  # the reason is shown, not just the outcome
    assert not (tmp_path / "box").exists(), "--down removes the demo's sandbox"
