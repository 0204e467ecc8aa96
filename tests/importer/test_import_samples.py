"""Every shared Qualys WAS report fixture imported end to end through `connector import`.

Expected counts were worked out from the files by hand (see the comments); texts the store must
hold are read from the same files with the standard library, independently of the importer.
"""

from __future__ import annotations

import csv
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from .conftest import CSV_SAMPLE, REPORTS, XML_SAMPLE, Cli

pytestmark = pytest.mark.shared


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# fixture -> (types, severities, asset key, report date, one finding: its Detection ID and
# the fields it must have). Types and levels counted in each file's RESULTS; severities through
# the default table 5/4/3/2/1 -> Critical/High/Medium/Low/Low (information gathered: None)
# unless the glossary has a CVSS v3 score.
EXPECTED: dict[str, dict[str, Any]] = {
    CSV_SAMPLE: {
        "types": {"VULNERABILITY": 68, "INFORMATION_GATHERED": 24},
        # the SUMMARY's level counts 5:11 4:3 3:20 2:14 1:20
        "severities": {"Critical": 11, "High": 3, "Medium": 20, "Low": 34, "None": 24},
        "asset": "url:http://testsparker.com",
        "report_date": _utc(2019, 4, 24, 2, 47),  # APPENDIX scan end
        "sample": (
            "2111160",  # ID 78419248: the first VULNERABILITY row
            {
                "qid": 150085,
                "name": "Slow HTTP POST vulnerability",
                "severity": "Medium",
                "severity_source": "qualys_severity",
                "qualys_severity": 3,
                "first_seen": _utc(2019, 4, 24, 1, 41),
                "last_seen": _utc(2019, 4, 24, 1, 41),
                "cwes": [772],
                "owasp": ["Security Misconfiguration"],
                "wasc": ["DENIAL OF SERVICE"],
            },
        ),
        "warnings": 0,
    },
    XML_SAMPLE: {
        "types": {"VULNERABILITY": 1, "INFORMATION_GATHERED": 13},
        "severities": {"Medium": 1, "None": 13},
        "asset": "url:https://services.example.com",
        "report_date": _utc(2020, 3, 12, 20, 54),  # 04:54PM GMT-0400
        "sample": (
            "6074202",
            {
                "qid": 150085,
                "unique_id": "20f4ba90-7bb0-11ea-ac65-5fc1d89b8cc7",
                "severity": "Medium",
                "first_seen": _utc(2020, 3, 12, 20, 42),
                "last_seen": _utc(2020, 3, 12, 20, 42),
                "owasp": ["Security Misconfiguration"],
            },
        ),
        "warnings": 1,  # its SUMMARY declares 2 vulnerabilities, it holds 1
    },
    "reports/was_scan_report_glossary_cvss3.xml": {
        "types": {"VULNERABILITY": 1},
        "severities": {"Medium": 1},  # glossary CVSS_V3/BASE 6.1
        "asset": "url:http://example.com",
        "report_date": _utc(2021, 11, 10, 15, 0),  # no scan list: the generation time
        "sample": (
            "1",
            {
                "qid": 6,
                "severity": "Medium",
                "severity_source": "kb_cvss_v3",
                "attack_vector": "Network",
                "first_seen": _utc(2021, 8, 22, 3, 0),  # 21 Aug 2021 10:00PM GMT-0500
            },
        ),
        "warnings": 2,  # declares 31 vulnerabilities and 30 information gathered
    },
    "reports/was_scan_report_many_vuln.xml": {
        "types": {"VULNERABILITY": 4, "INFORMATION_GATHERED": 18},
        "severities": {"Medium": 1, "Low": 3, "None": 18},  # levels 2, 3, 1, 1
        "asset": "url:https://store.example.com",
        "report_date": _utc(2020, 3, 11, 17, 42),
        "sample": (
            "6058986",
            {
                "qid": 150004,
                "severity": "Low",
                "cwes": [22],
                "first_seen": _utc(2020, 3, 11, 17, 7),
                "url": "https://store.example.com/js/xdr/core/lang/xdr_en.json.gz",
            },
        ),
        "warnings": 0,
    },
    "reports/was_scan_report_no_vuln.xml": {
        "types": {"INFORMATION_GATHERED": 17},
        "severities": {"None": 17},
        "asset": "url:https://exweb.example.com",
        "report_date": _utc(2020, 3, 15, 7, 26),
        "sample": ("2244704", {"qid": 150018, "first_seen": _utc(2020, 3, 15, 7, 3)}),
        "warnings": 1,  # declares 3 vulnerabilities in an empty list
    },
    "reports/was_scan_report_post_body.xml": {
        "types": {"VULNERABILITY": 1},
        "severities": {"Medium": 1},
        "asset": "url:https://services.example.com",
        "report_date": _utc(2020, 3, 12, 20, 54),
        "sample": (
            "6074202",
            {
                "param": "post_param",
                "first_seen": _utc(2024, 5, 14, 7, 35),  # 09:35AM GMT+0200, as the file says
                "last_seen": _utc(2024, 5, 14, 7, 35),
            },
        ),
        "warnings": 2,
    },
}


def _glossary_text(samples: Path, report: str, qid: int) -> dict[str, str]:
    """The glossary entry of `qid` as the file has it, read with the standard library."""
    path = samples / report
    if report.endswith(".csv"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for row in csv.reader(fh):
                if row[:2] == ["QID", str(qid)]:
                    return {
                        "title": row[2].strip(),
                        "description": row[11].strip(),
                        "solution": row[13].strip(),
                    }
        raise AssertionError(f"QID {qid} not in {report}")
    root = ET.parse(path).getroot()
    for entry in root.iterfind("GLOSSARY/QID_LIST/QID"):
        if entry.findtext("QID") == str(qid):
            return {
                "title": (entry.findtext("TITLE") or "").strip(),
                "description": (entry.findtext("DESCRIPTION") or "").strip(),
                "solution": (entry.findtext("SOLUTION") or "").strip(),
            }
    raise AssertionError(f"QID {qid} not in {report}")


@pytest.mark.parametrize("report", REPORTS)
def test_every_report_fixture_imports_with_its_exact_counts(
    cli: Cli, samples: Path, report: str
) -> None:
    """Each fixture gives exactly its findings by type and severity, on its web application,
    keyed on Detection IDs, dated by its scan, with its glossary as the weaknesses' text."""
    expected = EXPECTED[report]
    result = cli.run("import", str(samples / report))
    assert result.code == 0, result.err
    found = cli.findings()
    assert Counter(f["type"] for f in found.values()) == expected["types"]
    assert Counter(f["severity"] for f in found.values()) == expected["severities"]
    assert {f["asset_key"] for f in found.values()} == {expected["asset"]}
    assert {f["as_of"] for f in found.values()} == {expected["report_date"]}
    assert {f["status"] for f in found.values()} == {"Active"}
    assert {f["source"] for f in found.values()} == {"import"}
    key, fields = expected["sample"]
    sample = found[key]
    for name, value in fields.items():
        assert sample[name] == value, name
    text = _glossary_text(samples, report, sample["qid"])
    weakness = cli.weaknesses()[sample["qid"]]
    assert (weakness["title"], weakness["description"], weakness["solution"]) == (
        text["title"],
        text["description"],
        text["solution"],
    )
    assert (weakness["source"], weakness["known"]) == ("import", True)
    assert sample["name"] == text["title"]
    assert result.out.count("warning:") == expected["warnings"]
    assert f"findings:        {len(found)} created, 0 updated" in result.out


def test_csv_report_details_evidence_and_summary(cli: Cli, samples: Path) -> None:
    """The CSV sample's evidence keeps payload, request, response and the per-scan ID; the
    summary names its web application, date, identity and severities."""
    result = cli.run("import", str(samples / CSV_SAMPLE))
    assert result.code == 0, result.err
    ssti = cli.findings()["2111104"]  # ID 78419220, Server-Side Template Injection
    assert (ssti["name"], ssti["severity"], ssti["cwes"]) == (
        "Server-Side Template Injection (SSTI)",
        "Critical",
        [116, 94, 95],
    )
    assert "Report result ID: 78419220" in ssti["evidence"]
    assert "Payload #1: name=%3Becho" in ssti["evidence"]
    asset = cli.assets()["url:http://testsparker.com"]
    assert (asset["name"], asset["url"], asset["source"]) == (
        "TestSparker",
        "http://testsparker.com/",
        "import",
    )
    assert "web application: TestSparker <http://testsparker.com/>" in result.out
    assert "report date:     2019-04-24 02:47 UTC" in result.out
    assert "findings keyed:  on Detection ID" in result.out
    assert "by severity:     Critical 11, High 3, Medium 20, Low 34, None 24" in result.out
    assert "92 created, 0 updated, 0 unchanged, 0 kept, 0 marked Fixed" in result.out
    assert "glossary:        43 entries, 43 written as weaknesses" in result.out


def test_xml_evidence_is_decoded_and_keeps_the_request_body(cli: Cli, samples: Path) -> None:
    """Base64 responses are decoded; a POST's request BODY is kept in the evidence."""
    assert cli.run("import", str(samples / XML_SAMPLE)).code == 0
    found = cli.findings()
    slow = found["6074202"]
    assert "Vulnerable to slow HTTP POST attack" in slow["evidence"]
    assert "Request: POST https://services.example.com/" in slow["evidence"]
    assert "X-Xss-Protection: Header missing" in found["2253546"]["evidence"]
    cli.wipe()
    assert cli.run("import", str(samples / "reports/was_scan_report_post_body.xml")).code == 0
    body = cli.findings()["6074202"]["evidence"]
    assert "Request body:\npost_param=malicious_code_here" in body
    assert "Evidence: malicious_code_action_evidence" in body


@pytest.mark.parametrize("report", REPORTS)
def test_same_file_twice_writes_nothing(cli: Cli, samples: Path, report: str) -> None:
    """A second import of the same file changes no row of any table it writes (no updated_at,
    no asset, no event), says so, and is still recorded as an import."""
    assert cli.run("import", str(samples / report)).code == 0
    before_findings, before_assets, before_weak = cli.findings(), cli.assets(), cli.weaknesses()
    before = cli.counts()
    again = cli.run("import", str(samples / report))
    assert again.code == 0, again.err
    assert cli.findings() == before_findings
    assert cli.assets() == before_assets
    assert cli.weaknesses() == before_weak
    after = cli.counts()
    assert after["finding_events"] == before["finding_events"]
    assert after["imported_scans"] == before["imported_scans"] + 1
    assert f"0 created, 0 updated, {len(before_findings)} unchanged" in again.out
    assert "this file was imported before" in again.out
    assert "nothing changed" in again.out


def test_scans_list_and_show_tell_what_each_import_did(cli: Cli, samples: Path) -> None:
    """`scans list` (table and --json) lists imports newest first; `scans show ID` re-shows one."""
    assert "no scan files imported yet" in cli.run("scans", "list").out
    cli.run("import", str(samples / CSV_SAMPLE))
    cli.run("import", str(samples / XML_SAMPLE))
    listing = cli.run("scans", "list").out.splitlines()
    assert XML_SAMPLE in listing[1]
    assert CSV_SAMPLE in listing[2]
    assert "92 created" in listing[2]
    import json

    data = json.loads(cli.run("scans", "list", "--json").out)
    assert [d["file_name"] for d in data] == [XML_SAMPLE, CSV_SAMPLE]
    assert data[1]["summary"]["by_severity"] == EXPECTED[CSV_SAMPLE]["severities"]
    assert data[1]["asset_keys"] == ["url:http://testsparker.com"]
    shown = cli.run("scans", "show", str(data[0]["id"]))
    assert shown.code == 0, shown.err
    assert f"import #{data[0]['id']}" in shown.out
    assert "14 created" in shown.out
    assert "warning: the SUMMARY declares 2 vulnerability results" in shown.out
    one = json.loads(cli.run("scans", "show", str(data[1]["id"]), "--json").out)
    assert one["summary"]["created"] == 92
    missing = cli.run("scans", "show", "999")
    assert missing.code == 1
    assert "no import #999" in missing.err


def test_report_on_an_api_web_app_attaches_to_it(cli: Cli, samples: Path) -> None:
    """Findings of a report whose URL is an API web app's go to that asset, left unchanged."""
    from connector.models import Asset
    from connector.store import assets as store_assets

    api_app = Asset("42", "TestSparker (API)", "http://TestSparker.com", None, None)
    with cli.engine.begin() as conn:
        store_assets.upsert_assets(conn, "qualys-was", [api_app], now=datetime.now(UTC))
    before = cli.assets()["42"]
    result = cli.run("import", str(samples / CSV_SAMPLE))
    assert result.code == 0, result.err
    on_api = [f for f in cli.findings().values() if f["asset_key"] == "42"]
    assert len(on_api) == 92
    assert cli.assets()["42"] == before
    assert "url:http://testsparker.com" not in cli.assets()
    assert "the API's web application 42" in result.out


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
