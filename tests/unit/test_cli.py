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
