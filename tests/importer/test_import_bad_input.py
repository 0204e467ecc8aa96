"""Bad files: one clear message (file, line, column), exit code 1, nothing written."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.errors import ImportFileError
from connector.importer.csvrows import csv_records
from connector.importer.textlines import TextFile

from .conftest import CSV_SAMPLE, XML_SAMPLE, Cli, Transform

Variant = Callable[[str, Transform], Path]
NOTHING = {
    "assets": 0,
    "findings": 0,
    "finding_events": 0,
    "imported_scans": 0,
    "sync_runs": 0,
}


def _fails(cli: Cli, *args: str) -> str:
    result = cli.run("import", *args)
    assert result.code == 1, result.out
    assert cli.counts() == NOTHING
    return result.err


def test_unknown_csv_without_mapping_lists_expected_and_found_columns(
    cli: Cli, tmp_path: Path
) -> None:
    """A CSV that is not a WAS report needs --mapping; the message shows its columns."""
    report = tmp_path / "nessus.csv"
    report.write_text("Plugin ID,Risk,Host\n1,High,10.0.0.1\n", encoding="utf-8")
    err = _fails(cli, str(report))
    assert f"{report}: not a Qualys WAS report" in err
    assert "'Scan Report,<date>'" in err
    assert "Its columns: Plugin ID, Risk, Host" in err
    assert "--mapping" in err


def test_file_cut_inside_a_quoted_cell_is_truncated(
    cli: Cli, samples: Path, tmp_path: Path
) -> None:
    """A CSV report cut in the middle of a multi-line cell is reported as truncated."""
    data = (samples / CSV_SAMPLE).read_bytes()
    cut = data.index(b"Vulnerable to slow HTTP POST attack") + 10
    report = tmp_path / "cut.csv"
    report.write_bytes(data[:cut])
    err = _fails(cli, str(report))
    assert re.search(rf"{re.escape(str(report))}: line \d+: the file ends inside a quoted", err)
    assert "truncated" in err


def test_report_without_glossary_is_truncated(cli: Cli, variant: Variant) -> None:
    """A CSV report that ends in its RESULTS (no GLOSSARY) is refused as truncated."""
    report = variant("no_glossary.csv", lambda rows: rows[:60])
    err = _fails(cli, str(report))
    assert "no GLOSSARY section" in err
    assert "truncated" in err


def test_non_utf8_bytes_name_line_and_offset_and_latin1_works(cli: Cli, variant: Variant) -> None:
    """Latin-1 bytes fail as UTF-8 with line and byte offset; --encoding latin-1 imports them."""
    report = variant("latin.csv", lambda rows: rows)
    data = report.read_bytes().replace(b"TestSparker", b"TestSp\xe4rker", 1)
    report.write_bytes(data)
    offset = data.index(b"\xe4")
    line = data[:offset].count(b"\n") + 1
    err = _fails(cli, str(report))
    assert f"line {line}, byte offset {offset}" in err
    assert "--encoding" in err
    ok = cli.run("import", str(report), "--encoding", "latin-1")
    assert ok.code == 0, ok.err


def test_qid_missing_from_glossary_fails_then_skip_bad_rows_imports_the_rest(
    cli: Cli, variant: Variant
) -> None:
    """A result whose QID the glossary lacks stops the import; --skip-bad-rows lists it instead."""
    report = variant("no_150191.csv", lambda rows: [r for r in rows if r[:2] != ["QID", "150191"]])
    err = _fails(cli, str(report))
    lines = report.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines, 1) if '"150191"' in line)
    assert f"{report}: line {first}, column 'QID': QID 150191" in err
    assert "--skip-bad-rows" in err
    skipped = cli.run("import", str(report), "--skip-bad-rows")
    assert skipped.code == 0, skipped.err
    assert len(cli.findings()) == 90
    assert "rows skipped:    2" in skipped.out
    assert skipped.out.count("QID 150191 is not in the report's GLOSSARY") == 2


def test_severity_value_missing_from_mapping(cli: Cli, tmp_path: Path) -> None:
    """A severity value the mapping lacks names the line, the column and how to add it."""
    created = cli.run(
        "mappings", "create", "risk",
        "--column", "title=Name", "--column", "host=Host", "--column", "severity=Risk",
        "--severity", "Low=Low",
    )  # fmt: skip
    assert created.code == 0
    report = tmp_path / "risk.csv"
    report.write_text("Name,Host,Risk\na,h1,Low\nb,h1,Severe\n", encoding="utf-8")
    err = _fails(cli, str(report), "--mapping", "risk")
    assert f"{report}: line 3, column 'Risk': severity value 'Severe' is not in mapping" in err
    assert "--severity Severe=LABEL" in err


def test_row_with_missing_cells_is_a_bad_row(cli: Cli, tmp_path: Path) -> None:
    """A flat CSV row shorter than its header is reported with its line."""
    cli.run("mappings", "create", "m", "--column", "title=Name", "--column", "host=Host")
    report = tmp_path / "short.csv"
    report.write_text("Name,Host,Extra\na,h1,x\nb\n", encoding="utf-8")
    err = _fails(cli, str(report), "--mapping", "m")
    assert "line 3, column 'Extra': the row has 1 cells but the header has 3" in err


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<WAS_SCAN_REPORT><HEADER><NAME>&lol2;</NAME></HEADER></WAS_SCAN_REPORT>
"""


def test_xml_with_doctype_entities_is_refused(cli: Cli, tmp_path: Path) -> None:
    """An XML report declaring a DOCTYPE (an entity-expansion bomb here) is refused unexpanded."""
    report = tmp_path / "bomb.xml"
    report.write_text(BOMB, encoding="utf-8")
    err = _fails(cli, str(report))
    assert f"{report}: the XML declares a DOCTYPE" in err


def test_truncated_xml_names_line_and_column(cli: Cli, samples: Path, tmp_path: Path) -> None:
    """An XML report cut half-way fails as not valid XML with its line and column."""
    data = (samples / XML_SAMPLE).read_bytes()
    report = tmp_path / "cut.xml"
    report.write_bytes(data[: len(data) // 2])
    err = _fails(cli, str(report))
    assert re.search(r"line \d+, column \d+: not valid XML", err)
    assert "truncated" in err


def test_oversized_cell_and_line_are_refused(tmp_path: Path) -> None:
    """A cell over the cell limit and a line over the line limit are clear errors, not OOM."""
    big = tmp_path / "big.csv"
    big.write_text('a,b\n"' + "x" * 5000 + '",y\n', encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"line 2: a cell is larger than 1000 characters"):
        list(csv_records(TextFile(big), max_cell_chars=1000))
    with pytest.raises(ImportFileError, match=r"line 2: a line is longer than 100 bytes"):
        list(csv_records(TextFile(big, max_line_bytes=100)))
