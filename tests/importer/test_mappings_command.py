"""`connector mappings list|show|create|delete` and the built-in mappings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.cli import build_parser
from connector.errors import ImportFileError
from connector.importer.mapping import ImportFormat, mapping_from_flags, mapping_from_toml
from connector.models import Severity

from .conftest import Cli


def test_builtins_are_listed_shown_and_cannot_be_deleted(cli: Cli) -> None:
    """Both built-in mappings are listed and shown, and deleting one is refused."""
    listing = cli.run("mappings", "list")
    assert listing.code == 0
    assert "qualys-was-csv" in listing.out
    assert "qualys-was-xml" in listing.out
    shown = json.loads(cli.run("mappings", "show", "qualys-was-csv").out)
    assert shown["builtin"] is True
    assert shown["columns"]["title"] == "Title"
    assert shown["severity_values"]["5"] == "Critical"
    refused = cli.run("mappings", "delete", "qualys-was-csv")
    assert refused.code == 1
    assert "built-in mapping and cannot be deleted" in refused.err


def test_create_show_replace_delete_roundtrip(cli: Cli, tmp_path: Path) -> None:
    """A mapping created from flags is shown, replaced from a TOML file, then deleted."""
    made = cli.run(
        "mappings", "create", "mine", "--column", "title=Name", "--column", "url=URL",
        "--column", "severity=Sev", "--severity", "Urgent=Critical",
    )  # fmt: skip
    assert made.code == 0, made.err
    assert "created mapping mine (flat_csv)" in made.out
    shown = json.loads(cli.run("mappings", "show", "mine").out)
    assert shown["columns"] == {"title": "Name", "url": "URL", "severity": "Sev"}
    assert shown["severity_values"] == {"Urgent": "Critical"}
    toml = tmp_path / "mine.toml"
    toml.write_text('[columns]\ntitle = "T"\nhost = "H"\n', encoding="utf-8")
    assert (
        "replaced mapping mine"
        in cli.run("mappings", "create", "mine", "--from-file", str(toml)).out
    )
    assert json.loads(cli.run("mappings", "show", "mine").out)["columns"] == {
        "title": "T",
        "host": "H",
    }
    assert "mine" in cli.run("mappings", "list").out
    assert cli.run("mappings", "delete", "mine").code == 0
    assert cli.mappings_rows() == 0
    missing = cli.run("mappings", "show", "mine")
    assert missing.code == 1
    assert "no import mapping named 'mine'" in missing.err


def test_invalid_mapping_lists_every_problem(cli: Cli) -> None:
    """Unknown fields, bad labels and missing required fields are all reported at once."""
    result = cli.run(
        "mappings", "create", "bad", "--column", "colour=Red", "--column", "severity=S",
        "--severity", "1=Severe",
    )  # fmt: skip
    assert result.code == 1
    assert "unknown field 'colour'" in result.err
    assert "'Severe', which is not one of None, Low, Medium, High, Critical" in result.err
    assert "needs a column for title" in result.err
    assert "needs a column for url or host" in result.err
    assert cli.mappings_rows() == 0


def test_mapping_values_match_case_insensitively() -> None:
    """Severity values match trimmed and case-insensitively; TOML and flags build the same."""
    from_flags = mapping_from_flags(
        "m", format_name="flat_csv", columns=["title=N", "host=H", "severity=S"],
        severities=["Urgent=critical", "low=Low"],
    )  # fmt: skip
    from_toml = mapping_from_toml(
        "m",
        '[columns]\ntitle = "N"\nhost = "H"\nseverity = "S"\n'
        '[severity]\nUrgent = "Critical"\nlow = "Low"\n',
    )
    assert from_flags == from_toml
    assert from_flags.format is ImportFormat.FLAT_CSV
    assert from_flags.severity_for(" URGENT ") is Severity.CRITICAL
    assert from_flags.severity_for("medium") is None
    with pytest.raises(ImportFileError, match="must look like FIELD=COLUMN"):
        mapping_from_flags("m", format_name="flat_csv", columns=["title"], severities=[])


@pytest.mark.parametrize("command", ["import", "mappings", "scans"])
def test_commands_have_help(command: str) -> None:
    """Each import command is registered with help text."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert helps[command]
