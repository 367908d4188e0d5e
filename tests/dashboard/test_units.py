"""The dashboard's pure parts: the listen address, the loopback rule, CSRF tokens, the list's
rows and actions, and the vendored chart library."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest

from canary.dashboard import model
from canary.dashboard.access import Caller
from canary.dashboard.app import Options, is_loopback, serve, split_listen
from canary.dashboard.security import csrf_token

UPLOT_VERSION = "1.6.32"


def _canary(name: str, phase: str, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "annotations": annotations},
        "spec": {"analysis": {"threshold": 5}},
        "status": {"phase": phase, "canaryWeight": 10},
    }


@pytest.mark.parametrize(
    ("listen", "expected"),
    [("127.0.0.1:3100", ("127.0.0.1", 3100)), ("[::1]:80", ("::1", 80)), (":0", None)],
)
def test_listen_addresses(listen: str, expected: tuple[str, int] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError, match="--listen"):
            split_listen(listen)
    else:
        assert split_listen(listen) == expected


def test_loopback() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")  # noqa: S104 - the address refused
    assert not is_loopback("dashboard.example")


async def test_kubeconfig_access_refuses_to_listen_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="loopback only"):
        await serve(Options(listen="0.0.0.0:3100", mode="kubeconfig"))


def test_csrf_tokens_are_bound_to_the_caller_and_the_secret() -> None:
    alice, bob = Caller(name="alice", key="a"), Caller(name="bob", key="b")
    assert csrf_token(b"s", alice) == csrf_token(b"s", alice)
    assert csrf_token(b"s", alice) != csrf_token(b"s", bob)
    assert csrf_token(b"s", alice) != csrf_token(b"t", alice)


def test_rows_are_sorted_and_filtered_by_phase() -> None:
    objects = [_canary("b", "Progressing"), _canary("a", "Failed", **{model.PAUSED: "true"})]
    rows = model.rows(objects)
    assert [(row["name"], row["threshold"], row["paused"]) for row in rows] == [
        ("a", 5, True),
        ("b", 5, False),
    ]
    assert rows[0]["actions"] == ["retry", "resume"]
    assert rows[1]["actions"] == ["promote", "abort", "pause"]
    assert [row["name"] for row in model.rows(objects, phase="Failed")] == ["a"]


def test_rows_are_json() -> None:
    json.dumps(model.rows([_canary("a", "Progressing"), {"metadata": {}}]))


def test_the_chart_library_is_vendored_with_its_license() -> None:
    vendor = files("canary.dashboard") / "static" / "vendor"
    script = (vendor / "uPlot.iife.min.js").read_text()
    assert script.startswith("/*! https://github.com/leeoniya/uPlot (v" + UPLOT_VERSION)
    assert "MIT License" in (vendor / "uPlot.LICENSE").read_text()
    assert f"uPlot {UPLOT_VERSION}" in (vendor / "README.md").read_text()
