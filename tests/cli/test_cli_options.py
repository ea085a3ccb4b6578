"""Every `atp` subcommand spells a setting the same way and explains every option."""

import argparse

import pytest

from api.auth import Scope
from cli.main import build_parser


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Every leaf parser by its command path ("keys create")."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                prefix = f"{parser.prog.removeprefix('atp').strip()} {name}".strip()
                nested = _subcommands(sub)
                found.update(nested or {prefix: sub})
    return found


def _visible_options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if a.option_strings and a.help != argparse.SUPPRESS and "-h" not in a.option_strings
    ]


COMMANDS = _subcommands(build_parser())


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_has_help(command: str) -> None:
    undocumented = [a.option_strings[0] for a in _visible_options(COMMANDS[command]) if not a.help]
    assert undocumented == [], f"atp {command}: options without help"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_servers_are_named_one_way(command: str) -> None:
    shown = {s for a in _visible_options(COMMANDS[command]) for s in a.option_strings}
    assert not shown & {"--redis", "--dsn"}, f"atp {command}: use --redis-url and --pg-dsn"


def test_old_spellings_still_parse() -> None:
    args = build_parser().parse_args(
        ["verify", "--redis", "redis://h:1/3", "--dsn", "postgresql://x/y"]
    )
    assert args.redis == "redis://h:1/3" and args.dsn == "postgresql://x/y"


def test_keys_create_lists_the_scopes() -> None:
    text = COMMANDS["keys create"].format_help()
    assert all(scope.value in text for scope in Scope)
