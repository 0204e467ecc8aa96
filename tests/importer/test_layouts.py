"""Every layout reads alike: the fixtures rewritten nested (3.13+), as WAS_WEBAPP_REPORT, with
several web applications, and as a newer CSV export, give the same findings."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from . import layouts
from .conftest import CSV_SAMPLE, XML_REPORTS, Cli

pytestmark = pytest.mark.shared


@pytest.mark.parametrize("report", XML_REPORTS)
@pytest.mark.parametrize("rewrite", ["nested", "webapp report"])
def test_rewritten_xml_reports_read_identically(
    cli: Cli, samples: Path, tmp_path: Path, report: str, rewrite: str
) -> None:
    """A fixture in the nested layout or as a WAS_WEBAPP_REPORT gives exactly its findings."""
    assert cli.run("import", str(samples / report)).code == 0
    flat = cli.rows()
    cli.wipe()
    root = layouts.parse(samples / report).getroot()
    rewritten = layouts.nest(root) if rewrite == "nested" else layouts.as_webapp_report(root)
    path = layouts.write(rewritten, tmp_path / "rewritten.xml")
    result = cli.run("import", str(path))
    assert result.code == 0, result.err
    assert cli.rows() == flat
    assert "RESULTS/WEB_APPLICATION/" in result.out
    if rewrite == "webapp report":
        assert "WAS_WEBAPP_REPORT" in result.out


def test_report_with_two_web_applications_files_each_finding_under_its_own(
    cli: Cli, samples: Path, tmp_path: Path
) -> None:
    """One nested report holding two web applications puts each one's findings on its asset."""
    one = layouts.parse(samples / "was_scan_report_one_vuln.xml").getroot()
    many = layouts.parse(samples / "reports/was_scan_report_many_vuln.xml").getroot()
    path = layouts.write(layouts.combine(one, many), tmp_path / "two_apps.xml")
    result = cli.run("import", str(path))
    assert result.code == 0, result.err
    by_asset = Counter(f["asset_key"] for f in cli.findings().values())
    assert by_asset == {"url:https://services.example.com": 14, "url:https://store.example.com": 22}
    assert "Web Service Integration - TEST" in result.out
    assert "example eStore Server 1" in result.out


def test_unknown_layout_is_refused_naming_what_it_expected(
    cli: Cli, samples: Path, tmp_path: Path
) -> None:
    """Results one level deeper than any known layout are refused, nothing written."""
    root = layouts.nest(layouts.parse(samples / "reports/was_scan_report_many_vuln.xml").getroot())
    results = root.find("RESULTS")
    assert results is not None
    results[0].tag = "SCAN_RESULTS"  # RESULTS/SCAN_RESULTS/VULNERABILITY_LIST/VULNERABILITY
    path = layouts.write(root, tmp_path / "unknown.xml")
    result = cli.run("import", str(path))
    assert result.code == 1
    expected = "at RESULTS/SCAN_RESULTS/VULNERABILITY_LIST/VULNERABILITY, a layout this importer"
    assert f"{expected} does not know" in result.err
    assert cli.counts()["findings"] == 0
    assert cli.counts()["imported_scans"] == 0


def test_renamed_result_lists_are_refused_when_the_summary_declares_results(
    cli: Cli, samples: Path, tmp_path: Path
) -> None:
    """A report whose lists the importer cannot locate while its SUMMARY declares results is
    refused (it would otherwise read as empty and close everything)."""
    root = layouts.parse(samples / "reports/was_scan_report_many_vuln.xml").getroot()
    for element in root.iter():
        if element.tag in ("VULNERABILITY", "INFORMATION_GATHERED") and len(element):
            element.tag = "FINDING"
        elif element.tag.endswith("_LIST") and element.tag != "QID_LIST":
            element.tag = "FINDING_LIST"
    path = layouts.write(root, tmp_path / "renamed.xml")
    result = cli.run("import", str(path))
    assert result.code == 1
    assert "its SUMMARY declares 4 vulnerability results, 18 information gathered results" in (
        result.err
    )
    assert "no result list could be located" in result.err
    assert cli.counts()["findings"] == 0


def _newer_csv(rows: list[list[str]]) -> list[list[str]]:
    """A newer CSV export: Unique ID, Port and CVSS V3 columns, a second payload group, the
    columns in another order (read by name, never by position)."""
    out: list[list[str]] = []
    header: list[str] = []
    for row in rows:
        if row[:2] == ["VULNERABILITY", "ID"]:
            header = row
            out.append(
                [row[0], "QID", "Detection ID", "ID", "Unique ID", "Port", "CVSS V3 Base",
                 *row[4:], "Payload #2", "Request Method #2", "Request URL #2",
                 "Request Headers #2", "Response #2", "Evidence #2"]
            )  # fmt: skip
        elif row[:1] == ["VULNERABILITY"] and header:
            cells = dict(zip(header, row, strict=True))
            cvss = "9.8" if cells["QID"] == "150191" else ""
            out.append(
                [row[0], cells["QID"], cells["Detection ID"], cells["ID"],
                 f"uuid-{cells['ID']}", "443", cvss, *row[4:],
                 "second", "GET", cells["Url"], "", "second response", ""]
            )  # fmt: skip
        else:
            out.append(row)
    return out


def test_newer_csv_export_reads_columns_by_name(cli: Cli, samples: Path, tmp_path: Path) -> None:
    """Extra and reordered columns, Unique IDs, ports, CVSS v3 and two payload groups read."""
    with (samples / CSV_SAMPLE).open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    path = tmp_path / "newer_export.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(_newer_csv(rows))
    result = cli.run("import", str(path))
    assert result.code == 0, result.err
    found = cli.findings()
    assert Counter(f["type"] for f in found.values()) == {
        "VULNERABILITY": 68,
        "INFORMATION_GATHERED": 24,
    }
    ssti = found["2111104"]
    assert (ssti["unique_id"], ssti["ports"]) == ("uuid-78419220", [443])
    assert (ssti["severity"], ssti["severity_source"], ssti["cvss_v3_base"]) == (
        "Critical",
        "cvss_v3",
        9.8,
    )
    assert "Payload #2: second" in ssti["evidence"]
    assert "second response" in ssti["evidence"]
