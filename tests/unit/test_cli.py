"""The `canary` command's parser: every subcommand is reachable and documents itself."""

from __future__ import annotations

import pytest

from canary.cli.main import COMMANDS, build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["sandbox", "up", "--help"],
        ["run", "--help"],
        ["crds", "install", "--help"],
        ["loadtester", "--help"],
        ["demo", "--help"],
    ],
)
def test_each_subcommand_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 0
    assert f"usage: canary {argv[0]}" in capsys.readouterr().out


def test_every_parsed_command_has_a_handler() -> None:
    parser = build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert choices is not None
    assert set(choices) == set(COMMANDS)


def test_loadtester_flags_reach_its_settings() -> None:
    args = build_parser().parse_args(["loadtester", "--port", "9999", "--allow-commands"])
    assert (args.command, args.port, args.allow_commands) == ("loadtester", 9999, True)


def test_sandbox_up_takes_a_scrape_interval_and_refuses_what_prometheus_would() -> None:
    parser = build_parser()
    assert parser.parse_args(["sandbox", "up"]).scrape_interval == "1s"
    assert parser.parse_args(["sandbox", "up", "--scrape-interval", "15s"]).scrape_interval == "15s"
    assert parser.parse_args(["sandbox", "up", "--scrape-interval", "2m"]).scrape_interval == "2m"


@pytest.mark.parametrize("value", ["15", "0s", "1.5s", "15S", "500ms", "s"])
def test_a_scrape_interval_prometheus_would_not_take_is_refused_naming_the_flag(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["sandbox", "up", "--scrape-interval", value])
    assert exit_.value.code == 2
    error = capsys.readouterr().err
    assert "argument --scrape-interval" in error
    assert f"{value!r} is not a scrape interval" in error
    assert "(1s, 15s, 1m)" in error
