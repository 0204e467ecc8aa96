"""The shared Qualys WAS scan reports imported end to end through `connector import`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from .conftest import CSV_SAMPLE, XML_SAMPLE, Cli

pytestmark = pytest.mark.shared


def test_csv_report_imports_every_result_with_glossary_titles_and_severities(
    cli: Cli, samples: Path
) -> None:
    """The CSV sample gives 68 vulnerabilities and 24 information-gathered findings on its app."""
    result = cli.run("import", str(samples / CSV_SAMPLE))
    assert result.code == 0, result.err
    found = cli.findings()
    assert Counter(f["type"] for f in found.values()) == {
        "VULNERABILITY": 68,
        "INFORMATION_GATHERED": 24,
    }
    ssti = found["78419220"]
    assert ssti["name"] == "Server-Side Template Injection (SSTI)"
    assert ssti["qid"] == 150191
    assert (ssti["severity"], ssti["severity_source"], ssti["qualys_severity"]) == (
        "Critical",
        "file",
        5,
    )
    assert ssti["cwes"] == [116, 94, 95]
    assert ssti["param"] == "name"
    assert "Payload #1: name=%3Becho" in ssti["evidence"]
    # The SUMMARY's level counts (5:11, 4:3, 3:20, 2:14, 1:20) through 5/4/3/2/1 -> C/H/M/L/L.
    vulns = Counter(f["severity"] for f in found.values() if f["type"] == "VULNERABILITY")
    assert vulns == {"Critical": 11, "High": 3, "Medium": 20, "Low": 34}
    assert {f["severity"] for f in found.values() if f["type"] == "INFORMATION_GATHERED"} == {
        "None"
    }
    assert {f["status"] for f in found.values()} == {"Active"}
    assert {f["source"] for f in found.values()} == {"import"}
    asset = cli.assets()["url:http://testsparker.com"]
    assert (asset["name"], asset["url"], asset["source"]) == (
        "TestSparker",
        "http://testsparker.com/",
        "import",
    )
    assert {f["asset_key"] for f in found.values()} == {"url:http://testsparker.com"}
    assert "web application: TestSparker <http://testsparker.com/>" in result.out
    assert "report date:     2019-04-24 02:47 UTC" in result.out
    assert "92 created, 0 updated, 0 unchanged, 0 marked Fixed" in result.out


def test_xml_report_imports_with_decoded_evidence(cli: Cli, samples: Path) -> None:
    """The XML sample gives 1 vulnerability and 13 information-gathered findings, base64 decoded."""
    result = cli.run("import", str(samples / XML_SAMPLE))
    assert result.code == 0, result.err
    found = cli.findings()
    assert Counter(f["type"] for f in found.values()) == {
        "VULNERABILITY": 1,
        "INFORMATION_GATHERED": 13,
    }
    slow = found["101588229"]
    assert slow["name"] == "Slow HTTP POST vulnerability"
    assert slow["severity"] == "Medium"
    assert slow["unique_id"] == "20f4ba90-7bb0-11ea-ac65-5fc1d89b8cc7"
    assert "Vulnerable to slow HTTP POST attack" in slow["evidence"]
    assert "Request: POST https://services.example.com/" in slow["evidence"]
    assert "X-Xss-Protection: Header missing" in found["101588228"]["evidence"]
    assert list(cli.assets()) == ["url:https://services.example.com"]
    assert "Web Service Integration - TEST" in result.out


def test_same_file_twice_writes_no_finding_and_says_so(cli: Cli, samples: Path) -> None:
    """A second import of the same file leaves every finding row and event untouched."""
    assert cli.run("import", str(samples / CSV_SAMPLE)).code == 0
    before_rows, before = cli.findings(), cli.counts()
    again = cli.run("import", str(samples / CSV_SAMPLE))
    assert again.code == 0, again.err
    assert cli.findings() == before_rows
    after = cli.counts()
    assert after["finding_events"] == before["finding_events"]
    assert after["imported_scans"] == 2
    assert "0 created, 0 updated, 92 unchanged, 0 marked Fixed" in again.out
    assert "this file was imported before" in again.out
    assert "nothing changed" in again.out


def test_scans_list_shows_each_import(cli: Cli, samples: Path) -> None:
    """`connector scans list` lists the imports newest first with their counts."""
    assert "no scan files imported yet" in cli.run("scans", "list").out
    cli.run("import", str(samples / CSV_SAMPLE))
    cli.run("import", str(samples / XML_SAMPLE))
    listing = cli.run("scans", "list").out.splitlines()
    assert XML_SAMPLE in listing[1]
    assert CSV_SAMPLE in listing[2]
    assert "92 created" in listing[2]


def test_report_on_an_api_web_app_attaches_to_it(cli: Cli, samples: Path) -> None:
    """Findings of a report whose URL is an API web app's go to that asset, left unchanged."""
    from datetime import UTC, datetime

    from connector.models import Asset
    from connector.store import assets as store_assets

    api_app = Asset("42", "TestSparker (API)", "http://TestSparker.com", None, None)
    with cli.engine.begin() as conn:
        store_assets.upsert_assets(conn, "qualys-was", [api_app], now=datetime.now(UTC))
    assert cli.run("import", str(samples / XML_SAMPLE)).code == 0
    assert cli.run("import", str(samples / CSV_SAMPLE)).code == 0
    on_api = [f for f in cli.findings().values() if f["asset_key"] == "42"]
    assert len(on_api) == 92
    assert cli.assets()["42"]["name"] == "TestSparker (API)"
    assert "url:http://testsparker.com" not in cli.assets()


def test_saved_was_mapping_changes_severity_values(cli: Cli, samples: Path) -> None:
    """A saved WAS mapping that maps level 1 to None imports level-1 vulnerabilities as None."""
    made = cli.run(
        "mappings", "create", "was-lenient", "--format", "qualys_was_csv", "--severity", "1=None"
    )
    assert made.code == 0, made.err
    result = cli.run("import", str(samples / CSV_SAMPLE), "--mapping", "was-lenient")
    assert result.code == 0, result.err
    vulns = Counter(f["severity"] for f in cli.findings().values() if f["type"] == "VULNERABILITY")
    assert vulns == {"Critical": 11, "High": 3, "Medium": 20, "Low": 14, "None": 20}
    wrong = cli.run("import", str(samples / XML_SAMPLE), "--mapping", "was-lenient")
    assert wrong.code == 1
    assert "is for qualys_was_csv files but this file is qualys_was_xml" in wrong.err


def test_findings_the_api_sync_stores_are_not_overwritten_by_a_report(
    cli: Cli, samples: Path
) -> None:
    """A report finding whose WAS id the API sync already stores is left as the sync wrote it."""
    from datetime import UTC, datetime

    from connector.models import (
        Asset,
        Finding,
        FindingStatus,
        RunKind,
        Severity,
        SeveritySource,
    )
    from connector.store import assets as store_assets
    from connector.store import findings as store_findings
    from connector.store import runs as store_runs

    now = datetime.now(UTC)
    api_app = Asset("42", "TestSparker (API)", "http://TestSparker.com", None, None)
    synced = Finding(
        key="78419248",  # the report's first VULNERABILITY ID
        asset_key="42",
        name="as the API sync stored it",
        status=FindingStatus.FIXED,
        severity=Severity.LOW,
        severity_source=SeveritySource.CVSS_V3,
        qualys_status="FIXED",
    )
    with cli.engine.begin() as conn:
        store_assets.upsert_assets(conn, "qualys-was", [api_app], now=now)
        run = store_runs.start_run(conn, "qualys-was", RunKind.SYNC, now=now, host="h", pid=1)
        store_findings.upsert_findings(
            conn, "qualys-was", [synced], run_id=run, now=now, reason="sync"
        )
    result = cli.run("import", str(samples / CSV_SAMPLE))
    assert result.code == 0, result.err
    assert "kept:            1 findings the API sync already stores" in result.out
    stored = cli.findings()["78419248"]
    assert (stored["name"], stored["status"], stored["source"]) == (
        "as the API sync stored it",
        "Fixed",
        "api",
    )
    assert len(cli.findings()) == 92
