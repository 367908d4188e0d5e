"""The views' command lines."""

from __future__ import annotations

import pytest

from canary.cli.main import COMMANDS, build_parser


@pytest.mark.parametrize("command", ["get", "describe", "status", "check"])
def test_each_view_documents_itself_and_has_a_handler(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0
    assert f"usage: canary {command}" in capsys.readouterr().out
    assert command in COMMANDS


def test_get_takes_kubectls_flags() -> None:
    args = build_parser().parse_args(["get", "-A", "-w"])
    assert (args.name, args.all_namespaces, args.watch) == (None, True, True)
    args = build_parser().parse_args(["get", "podinfo", "-n", "shop"])
    assert (args.name, args.namespace, args.all_namespaces) == ("podinfo", "shop", False)


def test_status_reads_its_timeout_as_a_duration(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["status", "podinfo", "--wait", "--timeout", "1m30s"])
    assert (args.wait, args.timeout) == (True, 90.0)
    assert build_parser().parse_args(["status", "podinfo"]).timeout == 900.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["status", "podinfo", "--timeout", "soon"])
    assert "not a duration: 'soon'" in capsys.readouterr().err


def test_describe_takes_the_prometheus_url_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CANARY_PROMETHEUS_URL", "http://prometheus:9090")
    assert build_parser().parse_args(["describe", "x"]).prometheus_url == "http://prometheus:9090"
    monkeypatch.delenv("CANARY_PROMETHEUS_URL")
    assert build_parser().parse_args(["describe", "x"]).prometheus_url is None
