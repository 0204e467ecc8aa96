"""Help text and documentation stay in step with the code."""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from connector.cli import build_parser, main
from connector.config import KEYS

ROOT = Path(__file__).resolve().parents[1]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands registered")


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_subcommand_has_help(name: str) -> None:
    """Each subcommand has a help line and prints usage with --help, exiting 0."""
    parser = build_parser()
    helps = {a.dest: a.help for a in parser._subparsers._group_actions[0]._choices_actions}  # type: ignore[union-attr]
    assert helps.get(name), f"subcommand {name} has no help text"
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: connector {name}" in out.getvalue()


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_readme_lists_every_subcommand(name: str) -> None:
    """The README's command table names every subcommand."""
    assert f"`connector {name}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_example_config_documents_every_key() -> None:
    """config.example.toml mentions every key the loader accepts, in its section."""
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    tomllib.loads(text)  # it parses
    sections = text.split("\n[")
    for section, keys in KEYS.items():
        body = next((s for s in sections if s.startswith(f"{section}]")), None)
        assert body is not None, f"[{section}] missing from config.example.toml"
        for key in keys:
            assert f"{key}" in body, f"{section}.{key} not documented in config.example.toml"


HINT = re.compile(r"`connector ([^`|{}\[\]]+)`")  # a command a message or help text tells to run


def hints() -> list[str]:
    found: set[str] = set()
    for path in (ROOT / "connector").rglob("*.py"):
        found.update(m.strip() for m in HINT.findall(path.read_text(encoding="utf-8")))
    return sorted(h for h in found if not any(word.isupper() for word in h.split()))


def test_the_walk_finds_the_hints() -> None:
    """The hint scan below sees the messages' commands (guards against an empty parametrize)."""
    assert {"db upgrade", "sync", "mappings create --help", "scans list"} <= set(hints())


@pytest.mark.parametrize("hint", hints())
def test_every_hinted_command_parses_as_printed(hint: str) -> None:
    """Each `connector ...` command a message or help text suggests is a real command line."""
    argv = shlex.split(hint)
    if "--help" in argv:
        with contextlib.redirect_stdout(io.StringIO()), pytest.raises(SystemExit) as done:
            build_parser().parse_args(argv)
        assert done.value.code == 0
        return
    with contextlib.redirect_stderr(io.StringIO()) as err:
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"`connector {hint}` does not parse: {err.getvalue()}")
