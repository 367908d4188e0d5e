"""The Dockerfile and .dockerignore, read as text (no Docker engine is needed, nor assumed): the
image runs `canary run` as user 65532, is labelled with the package's version, and its build
context lets in exactly what the wheel is built from."""

from __future__ import annotations

import re
import tomllib
from typing import Any

from tests.helm.chart import REPOSITORY

DOCKERFILE = (REPOSITORY / "Dockerfile").read_text()


def _instructions(name: str) -> list[str]:
    """The arguments of every `name` instruction, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", text, re.MULTILINE)]


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    return project


def test_the_image_runs_the_controller_as_an_unprivileged_user() -> None:
    assert _instructions("USER") == ["65532:65532"]
    assert _instructions("ENTRYPOINT") == ['["canary"]']
    assert _instructions("CMD") == ['["run"]']
    stages = _instructions("FROM")
    assert stages == ["${PYTHON_IMAGE} AS build", "${PYTHON_IMAGE}"]
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE


def test_the_image_is_labelled_with_the_package_version() -> None:
    assert f"ARG VERSION={_project()['version']}" in DOCKERFILE


def test_the_build_context_lets_in_what_the_wheel_is_built_from() -> None:
    lines = [
        line.strip()
        for line in (REPOSITORY / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "an allow-list: everything is left out unless let in"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {
        source.rstrip("/")
        for arguments in _instructions("COPY")
        for source in arguments.split()[:-1]
        if not source.startswith("--")
    }
    assert copied == allowed
    assert _project()["readme"] in allowed
    assert "pyproject.toml" in allowed
    assert "canary" in allowed
