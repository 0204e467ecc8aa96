"""Flat CSV files through user mappings: ports consolidated, severity tables, identity rules."""

from __future__ import annotations

from pathlib import Path

from .conftest import Cli

FLAT = """\
Name,Host,QID,Port,Risk,Notes
Weak TLS,10.0.0.5,38170,443,Low,first
Weak TLS,10.0.0.5,38170,8443,Low,second
Weak TLS,10.0.0.5,38170,443,Low,duplicate port
Remote code execution,10.0.0.5,150191,80,Urgent,
Weak TLS,10.0.0.6,38170,443,Low,
"""


def _mapping(cli: Cli) -> None:
    created = cli.run(
        "mappings", "create", "scanner-x",
        "--column", "title=Name", "--column", "host=Host", "--column", "source_id=QID",
        "--column", "port=Port", "--column", "severity=Risk",
        "--severity", "Low=Low", "--severity", "Urgent=Critical", "--severity", "Info=None",
    )  # fmt: skip
    assert created.code == 0, created.err


def test_flat_csv_consolidates_ports_and_maps_severity_values(cli: Cli, tmp_path: Path) -> None:
    """Rows of one QID on one host become one finding with sorted unique ports; Urgent is Critical."""
    _mapping(cli)
    report = tmp_path / "scan.csv"
    report.write_text(FLAT, encoding="utf-8")
    result = cli.run("import", str(report), "--mapping", "scanner-x")
    assert result.code == 0, result.err
    found = cli.findings()
    assert set(found) == {
        "host:10.0.0.5|qid:38170",
        "host:10.0.0.5|qid:150191",
        "host:10.0.0.6|qid:38170",
    }
    tls = found["host:10.0.0.5|qid:38170"]
    assert tls["ports"] == [443, 8443]
    assert (tls["severity"], tls["severity_source"]) == ("Low", "file")
    assert found["host:10.0.0.5|qid:150191"]["severity"] == "Critical"
    assert set(cli.assets()) == {"host:10.0.0.5", "host:10.0.0.6"}
    assert "2 rows merged" in result.out
    assert "3 created" in result.out


def test_flat_csv_without_source_id_matches_by_title_per_url_asset(
    cli: Cli, tmp_path: Path
) -> None:
    """Without a QID column findings are keyed by title per asset; a URL's origin is the asset."""
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'format = "flat_csv"\n[columns]\ntitle = "Issue"\nurl = "Location"\n'
        'severity = "Sev"\ncvss_v3_base = "CVSS"\n[severity]\n"1" = "Low"\n"5" = "Critical"\n',
        encoding="utf-8",
    )
    assert cli.run("mappings", "create", "by-title", "--from-file", str(mapping)).code == 0
    report = tmp_path / "pages.csv"
    report.write_text(
        "Issue,Location,Sev,CVSS\n"
        "XSS,HTTPS://Shop.Example.com:443/a?x=1,1,\n"
        "XSS,https://shop.example.com/b,1,\n"
        "SQLi,https://shop.example.com/c,1,9.8\n",
        encoding="utf-8",
    )
    result = cli.run("import", str(report), "--mapping", "by-title")
    assert result.code == 0, result.err
    found = cli.findings()
    assert set(found) == {
        "url:https://shop.example.com|title:XSS",
        "url:https://shop.example.com|title:SQLi",
    }
    sqli = found["url:https://shop.example.com|title:SQLi"]
    assert (sqli["severity"], sqli["severity_source"]) == ("Critical", "cvss_v3")
    assert found["url:https://shop.example.com|title:XSS"]["url"] == "https://shop.example.com/b"


def test_missing_required_column_names_it_and_the_files_columns(cli: Cli, tmp_path: Path) -> None:
    """A mapping whose title column the file lacks fails with the columns the file has."""
    _mapping(cli)
    report = tmp_path / "other.csv"
    report.write_text("Title,Host\nx,10.0.0.1\n", encoding="utf-8")
    result = cli.run("import", str(report), "--mapping", "scanner-x")
    assert result.code == 1
    assert "title <- 'Name'" in result.err
    assert "The file's columns: Title, Host" in result.err
    assert cli.counts()["findings"] == 0
