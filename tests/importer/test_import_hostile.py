"""Hostile and broken inputs: one clear line naming the bad row, exit 1, nothing written, the
same on SQLite and PostgreSQL; what can be stored safely (a 10 KB URL, UTF-16) is."""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import CSV_SAMPLE, XML_SAMPLE, Cli, Transform

pytestmark = pytest.mark.shared
Variant = Callable[[str, Transform], Path]
NOTHING = {"assets": 0, "findings": 0, "finding_events": 0, "imported_scans": 0, "sync_runs": 0}


def _fails(cli: Cli, *args: str) -> str:
    result = cli.run("import", *args)
    assert result.code == 1, result.out
    assert cli.counts() == NOTHING
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    return result.err


def _edit_row(detection_id: str, column: int, value: str) -> Transform:
    """Set one cell of the result row with this Detection ID."""

    def transform(rows: list[list[str]]) -> list[list[str]]:
        return [
            [*r[:column], value, *r[column + 1 :]]
            if r[:1] in (["VULNERABILITY"], ["INFORMATION_GATHERED"]) and r[2:3] == [detection_id]
            else r
            for r in rows
        ]

    return transform


def _line_of(path: Path, needle: str) -> int:
    return next(
        i for i, line in enumerate(path.read_text("utf-8").splitlines(), 1) if needle in line
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1" * 30, "is not a QID (a number from 1 to 2147483647)"),
        (str(2**31), "is not a QID (a number from 1 to 2147483647)"),
    ],
)
def test_a_qid_beyond_32_bits_names_its_row(
    cli: Cli, variant: Variant, value: str, problem: str
) -> None:
    """A 30-digit QID or one of 2**31 is a row error (the same on both databases)."""
    report = variant("big_qid.csv", _edit_row("2111146", 3, value))
    err = _fails(cli, str(report))
    assert f"line {_line_of(report, value)}, column 'QID': '{value}' {problem}" in err


@pytest.mark.parametrize(
    ("date", "problem"),
    [
        ("01 Jan 0001 12:00AM GMT", "is outside 1990-2199: not a scan date"),
        ("31 Dec 9999 11:59PM GMT", "is outside 1990-2199: not a scan date"),
        ("31 Dec 9999 11:59PM GMT-0500", "is not a date"),
    ],
)
def test_dates_in_year_1_or_9999_name_the_bad_row_not_its_batch(
    cli: Cli, variant: Variant, date: str, problem: str
) -> None:
    """A date at the edge of the calendar, on a row deep in the file, is reported at that row."""
    report = variant("edge_date.csv", _edit_row("1066428", 5, date))  # an information row
    err = _fails(cli, str(report))
    line = _line_of(report, '"1066428"')
    assert line > 60  # not the first row of its batch
    assert f"line {line}, column 'Detection Date': " in err
    assert problem in err


@pytest.mark.parametrize(
    "url", ["http://testsparker.com:99999/", "http://[::1/", "http://testsparker.com:http/"]
)
def test_a_web_app_url_with_a_bad_port_or_ipv6_literal_is_one_line(
    cli: Cli, variant: Variant, url: str
) -> None:
    """The APPENDIX's URL with a bad port or a broken IPv6 literal: one line, not a traceback."""

    def bad_url(rows: list[list[str]]) -> list[list[str]]:
        return [[r[0], url, *r[2:]] if r[:1] == ["TestSparker"] else r for r in rows]

    err = _fails(cli, str(variant("bad_url.csv", bad_url)))
    assert "the web application's URL:" in err
    assert "is not a URL this importer can read" in err


def test_a_10_kb_url_is_stored_on_every_database(cli: Cli, variant: Variant) -> None:
    """A 10 KB web app and finding URL are stored (the asset key hashed), not refused."""
    long_url = "http://testsparker.com/" + "a" * 10_240

    def long(rows: list[list[str]]) -> list[list[str]]:
        out = []
        for r in rows:
            if r[:1] == ["TestSparker"]:
                r = [r[0], long_url, *r[2:]]  # noqa: PLW2901 - a rewritten copy
            elif r[:1] == ["VULNERABILITY"] and r[2:3] == ["2111146"]:
                r = [*r[:4], long_url, *r[5:]]  # noqa: PLW2901
            out.append(r)
        return out

    result = cli.run("import", str(variant("long_url.csv", long)))
    assert result.code == 0, result.err
    finding = cli.findings()["2111146"]
    assert finding["url"] == long_url
    (asset,) = cli.assets().values()
    assert asset["url"] == long_url
    assert asset["key"].startswith("url:sha256:")


@pytest.mark.parametrize("explicit", [True, False])
def test_utf16_csv_imports_with_or_without_encoding(
    cli: Cli, samples: Path, tmp_path: Path, explicit: bool
) -> None:
    """A UTF-16 export imports with --encoding utf-16, and from its byte-order mark without."""
    text = (samples / CSV_SAMPLE).read_text(encoding="utf-8-sig")
    report = tmp_path / "utf16.csv"
    report.write_text(text, encoding="utf-16")
    args = ["--encoding", "utf-16"] if explicit else []
    result = cli.run("import", str(report), *args)
    assert result.code == 0, result.err
    assert len(cli.findings()) == 92


def test_utf16_xml_imports_from_its_declaration(cli: Cli, samples: Path, tmp_path: Path) -> None:
    """A UTF-16 XML report (BOM and declaration) reads like the UTF-8 original."""
    text = (samples / XML_SAMPLE).read_text(encoding="utf-8")
    report = tmp_path / "utf16.xml"
    report.write_bytes(text.replace("encoding='UTF-8'", "encoding='UTF-16'").encode("utf-16"))
    result = cli.run("import", str(report))
    assert result.code == 0, result.err
    assert len(cli.findings()) == 14


@pytest.mark.parametrize("kind", ["zip", "gzip"])
def test_compressed_files_are_refused_with_what_to_do(
    cli: Cli, samples: Path, tmp_path: Path, kind: str
) -> None:
    """A zipped or gzipped report: "this is a compressed file: unpack it first"."""
    data = (samples / CSV_SAMPLE).read_bytes()
    report = tmp_path / f"report.{kind}"
    if kind == "gzip":
        report.write_bytes(gzip.compress(data))
    else:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(CSV_SAMPLE, data)
        report.write_bytes(buffer.getvalue())
    err = _fails(cli, str(report))
    assert f"this is a compressed file ({kind}): unpack it first" in err


def test_nul_bytes_are_refused_naming_line_and_offset(cli: Cli, variant: Variant) -> None:
    """NUL bytes in a UTF-8 file (PostgreSQL could not store them) are refused where they are."""
    report = variant("nul.csv", lambda rows: rows)
    data = report.read_bytes()
    at = data.index(b"Slow HTTP POST")
    report.write_bytes(data[:at] + b"\x00" + data[at:])
    err = _fails(cli, str(report))
    line = data[:at].count(b"\n") + 1
    assert f"line {line}, byte offset {at}: the file contains NUL bytes" in err


def test_control_characters_from_the_file_are_printed_escaped(cli: Cli, variant: Variant) -> None:
    """A web app name with an ESC sequence is shown escaped, never sent to the terminal."""

    def evil(rows: list[list[str]]) -> list[list[str]]:
        return [["Evil\x1b[2J\rApp\u202e", *r[1:]] if r[:1] == ["TestSparker"] else r for r in rows]

    result = cli.run("import", str(variant("evil.csv", evil)))
    assert result.code == 0, result.err
    assert "\x1b" not in result.out
    assert "\u202e" not in result.out
    assert "Evil\\x1b[2J\\x0dApp\\u202e" in result.out
    listing = cli.run("scans", "list").out + cli.run("scans", "show", "1").out
    assert "\x1b" not in listing


def test_control_characters_in_a_header_are_escaped_in_the_error(cli: Cli, tmp_path: Path) -> None:
    """An unknown CSV's columns are listed escaped in the one-line error."""
    report = tmp_path / "weird.csv"
    report.write_text("Name\x1b[31m,Host\n1,2\n", encoding="utf-8")
    err = _fails(cli, str(report))
    assert "Its columns: Name\\x1b[31m, Host" in err
    assert "\x1b" not in err
