"""`python -m canary.api.crdgen [--check] [--dir DIR]`: write, or check, the CRDs in `crds/`.

The committed YAML must be exactly what the models generate; `--check` is how CI (and a unit
test) finds a model changed without regenerating. This is the one place in `canary.api` that
touches files, and it only runs as a command.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

from canary.api.crd import GENERATED_BY, all_crds, render

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "crds"
# The Helm chart's copy (Helm installs the CRDs of its chart's crds/ directory); written and
# checked with DEFAULT_DIR when no --dir is given, so the two never drift apart.
CHART_DIR = DEFAULT_DIR.parent / "helm" / "canary" / "crds"


def expected_files() -> dict[str, str]:
    """The text of every CRD file, by file name."""
    return {name: render(crd) for name, crd in all_crds().items()}


def differences(directory: Path) -> list[str]:
    """Unified diffs between the files in `directory` and what the models generate."""
    diffs = []
    for name, expected in expected_files().items():
        path = directory / name
        actual = path.read_text() if path.exists() else ""
        if actual != expected:
            diff = difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                fromfile=f"{path} (committed)",
                tofile=f"{path} (generated)",
            )
            diffs.append("".join(diff))
    return diffs


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in expected_files().items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=GENERATED_BY, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where the CRDs live (default: crds/ and the chart's)",
    )
    args = parser.parse_args(argv)
    directories = [args.dir] if args.dir is not None else [DEFAULT_DIR, CHART_DIR]
    if args.check:
        stale = [d for d in directories if differences(d)]
        for directory in stale:
            sys.stderr.write("".join(differences(directory)))
            sys.stderr.write(
                f"\nThe CRDs in {directory} differ from the models; run `{GENERATED_BY}`.\n"
            )
        for directory in directories:
            if directory not in stale:
                sys.stdout.write(f"The CRDs in {directory} match the models.\n")
        return 1 if stale else 0
    for directory in directories:
        for path in write(directory):
            sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
