"""Exports other tools ingest: DefectDojo Generic Findings Import, OCSF Vulnerability Finding,
plain-text KB fields, and the finding keys behind severity and closing (ports, KB CVSS, reason).

The required and allowed field lists below were written from the tools' public definitions:
DefectDojo's generic JSON parser (dojo/tools/generic/json_parser.py: the keys it requires and the
keys it accepts, anything else is refused) and the OCSF 1.3.0 schema (base event, finding,
vulnerability_finding and the objects they use).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import xmltodict
from sqlalchemy import Engine

from connector.exports.plaintext import html_to_text
from connector.store import schema
from tests.support import Tenant, run_cli, table_rows

# --- DefectDojo "Generic Findings Import" (JSON) -------------------------------------------------
DD_REQUIRED = {"title", "severity", "description"}
DD_ALLOWED = DD_REQUIRED | {
    # popped by the parser before the Finding is built
    "endpoints", "files", "tags", "vulnerability_ids", "cwes",
    # Finding fields it accepts
    "date", "cwe", "cve", "epss_score", "epss_percentile", "cvssv3", "cvssv3_score", "cvssv4",
    "cvssv4_score", "mitigation", "impact", "steps_to_reproduce", "severity_justification",
    "references", "active", "verified", "false_p", "out_of_scope", "risk_accepted",
    "under_review", "is_mitigated", "thread_id", "mitigated", "numerical_severity", "param",
    "payload", "line", "file_path", "component_name", "component_version", "static_finding",
    "dynamic_finding", "scanner_confidence", "unique_id_from_tool", "vuln_id_from_tool",
    "sast_source_object", "sast_sink_object", "sast_source_line", "sast_source_file_path",
    "nb_occurences", "publish_date", "service", "planned_remediation_date",
    "planned_remediation_version", "effort_for_fixing",
}  # fmt: skip
DD_SEVERITIES = {"Info", "Low", "Medium", "High", "Critical"}
DD_BOOLEANS = {"active", "verified", "is_mitigated", "false_p", "risk_accepted", "out_of_scope",
               "static_finding", "dynamic_finding"}  # fmt: skip

# --- OCSF 1.3.0 Vulnerability Finding (class 2002) -----------------------------------------------
OCSF_EVENT_REQUIRED = {
    "activity_id", "category_uid", "class_uid", "metadata", "severity_id", "time", "type_uid",
    "finding_info",  # finding
    "vulnerabilities",  # vulnerability_finding
}  # fmt: skip
OCSF_METADATA_REQUIRED = {"product", "version"}
OCSF_FINDING_INFO_REQUIRED = {"uid", "title"}
OCSF_CWE_REQUIRED = {"uid"}
OCSF_CVE_REQUIRED = {"uid"}
OCSF_CVSS_REQUIRED = {"base_score", "version"}
OCSF_SEVERITY_IDS = {"None": 1, "Low": 2, "Medium": 3, "High": 4, "Critical": 5}
OCSF_STATUS_IDS = {1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved"}
OCSF_ACTIVITY_IDS = {1: "Create", 2: "Update", 3: "Close"}
TAG = re.compile(r"<[A-Za-z/!]")


@pytest.fixture
def tenant(synced: Tenant) -> Tenant:
    return synced


@pytest.fixture
def config(offline_config: Path) -> Path:
    return offline_config


def export(config: Path, *argv: str) -> str:
    result = run_cli(["export", *argv], config, password="")
    assert result.code == 0, result.stderr
    return result.stdout


def stored_findings(engine: Engine) -> dict[str, sa.RowMapping]:
    return {row["key"]: row for row in table_rows(engine, schema.findings)}


def stored_weaknesses(engine: Engine) -> dict[int, sa.RowMapping]:
    return {row["qid"]: row for row in table_rows(engine, schema.weaknesses)}


def test_defectdojo_document_has_required_and_only_allowed_fields(
    tenant: Tenant, config: Path, engine: Engine
) -> None:
    """--format defectdojo writes {"findings": [...]}, each with DefectDojo's required fields,
    no field its importer refuses, and values of the types it parses."""
    document = json.loads(export(config, "findings", "--format", "defectdojo"))
    assert set(document) == {"findings"}
    stored = stored_findings(engine)
    items = document["findings"]
    assert len(items) == len(export(config, "findings").splitlines())
    assert items
    for item in items:
        assert set(item) >= DD_REQUIRED, item
        assert set(item) <= DD_ALLOWED, set(item) - DD_ALLOWED
        assert item["title"]
        assert item["description"].strip()
        assert item["severity"] in DD_SEVERITIES
        assert all(type(item[key]) is bool for key in DD_BOOLEANS & set(item))
        date.fromisoformat(item["date"])
        row = stored[item["unique_id_from_tool"]]
        assert item["vuln_id_from_tool"] == str(row["qid"])
        assert item["severity"] == ("Info" if row["severity"] == "None" else row["severity"])
        if row["cwes"]:
            assert item["cwe"] == row["cwes"][0]
        if "cvssv3_score" in item:
            assert 0 <= item["cvssv3_score"] <= 10
        if "cvssv3" in item:
            assert item["cvssv3"].startswith("CVSS:3.")
        assert item["endpoints"] == [row["url"]]
        assert not TAG.search(item["description"])  # KB HTML converted to text
        fixed = row["status"] == "Fixed"
        assert item["is_mitigated"] is fixed
        if fixed:
            assert item["active"] is False
            datetime.fromisoformat(item["mitigated"].replace("Z", "+00:00"))
        else:
            assert item["active"] is (row["ignored_reason"] is None)
    assert {i["severity"] for i in items} >= {"Info", "High"}  # our None is their Info
    assert any(i["is_mitigated"] for i in items)
    assert any(i["active"] for i in items)


def test_ocsf_events_carry_every_required_attribute(
    tenant: Tenant, config: Path, engine: Engine
) -> None:
    """--format ocsf prints one Vulnerability Finding event per line with the attributes the
    OCSF 1.3.0 schema requires of the event and of each object in it."""
    lines = export(config, "findings", "--format", "ocsf").splitlines()
    stored = stored_findings(engine)
    kb = stored_weaknesses(engine)
    assert len(lines) == len(export(config, "findings").splitlines())
    with_cve = 0
    for line in lines:
        event = json.loads(line)
        assert set(event) >= OCSF_EVENT_REQUIRED, OCSF_EVENT_REQUIRED - set(event)
        assert (event["class_uid"], event["category_uid"]) == (2002, 2)
        assert event["activity_id"] in OCSF_ACTIVITY_IDS
        assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
        assert type(event["time"]) is int and event["time"] > 1_000_000_000_000  # milliseconds
        assert set(event["metadata"]) >= OCSF_METADATA_REQUIRED
        assert event["metadata"]["version"] == "1.3.0"
        assert event["metadata"]["product"] == {"name": "Qualys WAS", "vendor_name": "Qualys"}
        info = event["finding_info"]
        assert set(info) >= OCSF_FINDING_INFO_REQUIRED
        row = stored[info["uid"]]
        assert info["title"] == row["name"]
        assert event["severity_id"] == OCSF_SEVERITY_IDS[row["severity"]]
        assert event["status"] == OCSF_STATUS_IDS[event["status_id"]]
        if row["status"] == "Fixed":
            assert (event["status_id"], event["activity_id"]) == (4, 3)
        elif row["ignored_reason"] is None:
            assert event["status_id"] == (1 if row["qualys_status"] == "NEW" else 2)
        assert event["resources"][0]["uid"] == row["asset_key"]
        (vulnerability,) = event["vulnerabilities"]
        weakness = kb.get(row["qid"])
        cves = list(weakness["cves"]) if weakness is not None else []
        if row["cwes"] or cves:  # the schema wants a CVE or a CWE on every vulnerability
            assert {"cve", "cwe"} & set(vulnerability)
        if row["cwes"]:
            assert set(vulnerability["cwe"]) >= OCSF_CWE_REQUIRED
            assert vulnerability["cwe"]["uid"] == f"CWE-{row['cwes'][0]}"
        if cves:
            with_cve += 1
            assert set(vulnerability["cve"]) >= OCSF_CVE_REQUIRED
            assert vulnerability["cve"]["uid"] == cves[0]
            for cvss in vulnerability["cve"].get("cvss", []):
                assert set(cvss) >= OCSF_CVSS_REQUIRED
                assert cvss["version"].startswith("3.")
        if "remediation" in vulnerability:
            assert vulnerability["remediation"]["desc"]
        assert not TAG.search(vulnerability.get("desc", ""))
        assert event["unmapped"]["qid"] == row["qid"]
    assert with_cve  # the sample tenant's KB lists CVEs for some QIDs


def test_ocsf_cvss_is_the_findings_score_or_the_kbs(
    tenant: Tenant, config: Path, engine: Engine
) -> None:
    """The CVSS in an OCSF event is the finding's own base score, else the KB's (with the KB
    vector and its version), as severity_source says."""
    stored = stored_findings(engine)
    kb = stored_weaknesses(engine)
    seen_kb = False
    for line in export(config, "findings", "--format", "ocsf").splitlines():
        event = json.loads(line)
        row = stored[event["finding_info"]["uid"]]
        cvss = event["unmapped"].get("cvss")
        if row["cvss_v3_base"] is not None:
            assert cvss["base_score"] == row["cvss_v3_base"]
        elif row["severity_source"] == "kb_cvss_v3":
            seen_kb = True
            weakness = kb[row["qid"]]
            assert cvss["base_score"] == weakness["cvss_v3_base"]
            assert cvss["vector_string"] == weakness["cvss_v3_vector"]
            assert cvss["version"] == weakness["cvss_v3_vector"].split("/")[0][5:]
    assert seen_kb


def test_findings_carry_ports_kb_score_fixed_reason_and_stored_names(
    tenant: Tenant, config: Path, engine: Engine
) -> None:
    """Finding records show ports, the KB CVSS v3 score behind severity_source = kb_cvss_v3,
    fixed_reason, and the OWASP/WASC names stored, whatever the source wrote them."""
    victim = next(iter(stored_findings(engine)))
    with engine.begin() as conn:
        conn.execute(
            sa.update(schema.findings)
            .where(schema.findings.c.key == victim)
            .values(
                ports=[443, 8443],
                source="import:qualys-was-csv",
                owasp=["A03 Injection"],
                wasc=["SQL Injection"],
            )
        )
    stored = stored_findings(engine)
    kb = stored_weaknesses(engine)
    records = [json.loads(line) for line in export(config, "findings").splitlines()]
    by_id = {r["id"]: r for r in records}
    assert by_id[victim]["ports"] == [443, 8443]
    assert (by_id[victim]["owasp"], by_id[victim]["wasc"]) == (["A03 Injection"], ["SQL Injection"])
    assert by_id[victim]["source"] == "import:qualys-was-csv"
    kb_scored = [r for r in records if r["severity_source"] == "kb_cvss_v3"]
    assert kb_scored
    for record in records:
        row = stored[record["id"]]
        assert record["ports"] == list(row["ports"])
        assert all(type(p) is int for p in record["ports"])
        assert record["fixed_reason"] == row["fixed_reason"]
        weakness = kb.get(row["qid"])
        assert record["kb_cvss_v3_base"] == (weakness["cvss_v3_base"] if weakness else None)
    for record in kb_scored:
        assert record["cvss_v3_base"] is None
        assert record["kb_cvss_v3_base"] is not None
    assert {r["fixed_reason"] for r in records if r["status"] == "Fixed"} - {None}


def test_plain_text_turns_kb_html_into_text_in_every_format(tenant: Tenant, config: Path) -> None:
    """--plain-text gives description, impact and solution as text (tags gone, entities decoded)
    in JSON Lines and CSV; without it the KB's HTML is kept as stored."""
    html = [json.loads(line) for line in export(config, "findings").splitlines()]
    text = [json.loads(line) for line in export(config, "findings", "--plain-text").splitlines()]
    assert any("<P>" in (r["description"] or "") for r in html)
    for raw, plain in zip(html, text, strict=True):
        for key in ("description", "impact", "solution"):
            if raw[key] is None:
                assert plain[key] is None
                continue
            assert not TAG.search(plain[key])
            assert "&quot;" not in plain[key]
        assert {k: v for k, v in raw.items() if k not in ("description", "impact", "solution")} == {
            k: v for k, v in plain.items() if k not in ("description", "impact", "solution")
        }
    csv_text = export(config, "findings", "--format", "csv", "--plain-text")
    assert "<P>" not in csv_text


def test_findings_only_formats_refuse_other_kinds(config: Path, tenant: Tenant) -> None:
    """--format defectdojo or ocsf on assets is a usage error naming the command that works."""
    result = run_cli(["export", "assets", "--format", "OCSF"], config, password="")
    assert result.code == 2
    assert "`connector export findings --format ocsf`" in result.stderr


def kb_texts(samples: Path) -> list[str]:
    data: Any = xmltodict.parse((samples / "kb_vuln_list_43_qids.xml").read_bytes())
    vulns = data["KNOWLEDGE_BASE_VULN_LIST_OUTPUT"]["RESPONSE"]["VULN_LIST"]["VULN"]
    return [v[k] for v in vulns for k in ("DIAGNOSIS", "CONSEQUENCE", "SOLUTION") if v.get(k)]


@pytest.mark.shared
def test_real_kb_html_becomes_readable_text(samples: Path) -> None:
    """Every DIAGNOSIS/CONSEQUENCE/SOLUTION of the real KB sample converts to text without markup
    (escaped code samples stay as text), with link targets kept."""
    texts = kb_texts(samples)
    assert len(texts) > 40
    for html in texts:
        text = html_to_text(html)
        # every "<" left is text the KB escaped (code samples such as &lt;SCRIPT&gt;), no markup
        assert text.count("<") <= html.count("&lt;") + html.count("&#60;"), text
        assert text == text.strip()
        assert "\n\n\n" not in text
    linked = next(h for h in texts if "<A HREF" in h.upper())
    assert "(http" in html_to_text(linked)


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<P>One</P><P>Two</P>", "One\n\nTwo"),
        ("a<BR>b<br/>c", "a\nb\nc"),
        ("<UL><LI>x</LI><LI>y</LI></UL>", "- x\n- y"),
        ('see <A HREF="https://cwe.mitre.org/">CWE</A>.', "see CWE (https://cwe.mitre.org/)."),
        ('<a href="https://x.test/">https://x.test/</a>', "https://x.test/"),
        ("&lt;script&gt; &amp; &quot;q&quot;", '<script> & "q"'),
        ("keep\nlines   but  collapse", "keep\nlines but collapse"),
        ("<script>alert(1)</script><style>p{}</style>shown", "shown"),
        ("", ""),
    ],
)
def test_html_to_text_cases(html: str, text: str) -> None:
    """Paragraphs, breaks, lists, links, entities, newlines and dropped script/style."""
    assert html_to_text(html) == text
