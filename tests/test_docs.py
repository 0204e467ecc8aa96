"""Help text and documentation stay in step with the code."""

from __future__ import annotations

import argparse
import contextlib
import io
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
