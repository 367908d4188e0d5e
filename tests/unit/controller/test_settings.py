"""The controller's flags that carry Flagger's meaning."""

from __future__ import annotations

import argparse

import pytest

from canary.controller.settings import add_arguments, from_arguments


def _settings(*argv: str) -> tuple[str, ...]:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return from_arguments(parser.parse_args(list(argv))).include_label_prefixes


def test_include_label_prefix_is_flaggers_comma_separated_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CANARY_INCLUDE_LABEL_PREFIX", raising=False)
    assert _settings() == (), "Flagger's default copies no label"
    assert _settings("--include-label-prefix=app.kubernetes.io, team,") == (
        "app.kubernetes.io",
        "team",
    )
    assert _settings("--include-label-prefix", "*") == ("*",)
    monkeypatch.setenv("CANARY_INCLUDE_LABEL_PREFIX", "team")
    assert _settings() == ("team",)
