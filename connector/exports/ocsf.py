"""Findings as OCSF 1.3.0 Vulnerability Finding events (class_uid 2002), one per line. Pure.

What the schema has no attribute for (the QID, Qualys' own status, OWASP/WASC names, ports, and
the CVSS score when the finding has no CVE to hang it on) goes into `unmapped`. Times are OCSF
timestamps: milliseconds since the epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connector.exports.defectdojo import cvss_v3
from connector.exports.plaintext import html_to_text
from connector.models import FindingStatus, Severity

SCHEMA_VERSION = "1.3.0"
CATEGORY_UID = 2  # Findings
CLASS_UID = 2002  # Vulnerability Finding
ACTIVITY_CREATE, ACTIVITY_CLOSE = 1, 3
ACTIVITY_NAMES = {ACTIVITY_CREATE: "Create", ACTIVITY_CLOSE: "Close"}
SEVERITY_IDS = {
    Severity.NONE.value: (1, "Informational"),
    Severity.LOW.value: (2, "Low"),
    Severity.MEDIUM.value: (3, "Medium"),
    Severity.HIGH.value: (4, "High"),
    Severity.CRITICAL.value: (5, "Critical"),
}
STATUS_NEW, STATUS_IN_PROGRESS, STATUS_SUPPRESSED, STATUS_RESOLVED = 1, 2, 3, 4
STATUS_NAMES = {
    STATUS_NEW: "New",
    STATUS_IN_PROGRESS: "In Progress",
    STATUS_SUPPRESSED: "Suppressed",
    STATUS_RESOLVED: "Resolved",
}
PRODUCT = {"name": "Qualys WAS", "vendor_name": "Qualys"}


def status_id(row: Mapping[str, Any]) -> int:
    """Fixed: Resolved; ignored in Qualys: Suppressed; Qualys NEW: New; else In Progress."""
    if row["status"] == FindingStatus.FIXED.value:
        return STATUS_RESOLVED
    if row.get("ignored_reason"):
        return STATUS_SUPPRESSED
    if row.get("qualys_status") == "NEW":
        return STATUS_NEW
    return STATUS_IN_PROGRESS


def event(row: Mapping[str, Any]) -> dict[str, Any]:
    """One stored finding (the export query's row) as an OCSF Vulnerability Finding event."""
    fixed = row["status"] == FindingStatus.FIXED.value
    activity = ACTIVITY_CLOSE if fixed else ACTIVITY_CREATE
    severity_id, severity = SEVERITY_IDS.get(row["severity"], (0, "Unknown"))
    status = status_id(row)
    description = _text(row.get("description"))
    first_seen, last_seen = _ms(row.get("first_seen")), _ms(row.get("last_seen"))
    when = _ms(row.get("fixed_at")) if fixed else None
    return {
        "activity_id": activity,
        "activity_name": ACTIVITY_NAMES[activity],
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Vulnerability Finding",
        "type_uid": CLASS_UID * 100 + activity,
        "type_name": f"Vulnerability Finding: {ACTIVITY_NAMES[activity]}",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status,
        "status": STATUS_NAMES[status],
        "time": when or last_seen or first_seen or _ms(row.get("updated_at")),
        "message": row["name"],
        "metadata": {"version": SCHEMA_VERSION, "product": dict(PRODUCT)},
        "finding_info": _drop_none(
            {
                "uid": row["key"],
                "title": row["name"],
                "desc": description,
                "first_seen_time": first_seen,
                "last_seen_time": last_seen,
                "types": [row["type"]] if row.get("type") else None,
                "src_url": row.get("url") or None,
            }
        ),
        "vulnerabilities": [_vulnerability(row, description, first_seen, last_seen)],
        "resources": [
            _drop_none(
                {
                    "uid": row["asset_key"],
                    "name": row.get("asset_name"),
                    "type": "Web Application",
                    "data": {"url": row["asset_url"]} if row.get("asset_url") else None,
                }
            )
        ],
        "unmapped": _unmapped(row),
    }


def _vulnerability(
    row: Mapping[str, Any], description: str | None, first_seen: int | None, last_seen: int | None
) -> dict[str, Any]:
    cves = list(row.get("kb_cves") or ())
    solution = _text(row.get("solution"))
    vulnerability: dict[str, Any] = {
        "title": row["name"],
        "desc": description,
        "severity": row["severity"],
        "vendor_name": "Qualys",
        "first_seen_time": first_seen,
        "last_seen_time": last_seen,
        "cwe": {"uid": f"CWE-{row['cwes'][0]}"} if row.get("cwes") else None,
        "remediation": {"desc": solution} if solution else None,
    }
    if cves:
        cve: dict[str, Any] = {"uid": cves[0]}
        score = _cvss(row)
        if score is not None:
            cve["cvss"] = [score]
        vulnerability["cve"] = cve
        if len(cves) > 1:
            vulnerability["related_vulnerabilities"] = cves[1:]
    return _drop_none(vulnerability)


def _cvss(row: Mapping[str, Any]) -> dict[str, Any] | None:
    score, vector = cvss_v3(row)
    if score is None:
        return None
    version = vector.split("/", 1)[0].removeprefix("CVSS:") if vector else "3.x"
    return _drop_none({"version": version, "base_score": score, "vector_string": vector})


def _unmapped(row: Mapping[str, Any]) -> dict[str, Any]:
    cwes = list(row.get("cwes") or ())
    return _drop_none(
        {
            "qid": row.get("qid"),
            "qualys_status": row.get("qualys_status"),
            "ignored_reason": row.get("ignored_reason"),
            "severity_source": row.get("severity_source"),
            "cvss": _cvss(row),
            "cwes": cwes if len(cwes) > 1 else None,
            "owasp": list(row.get("owasp") or ()) or None,
            "wasc": list(row.get("wasc") or ()) or None,
            "ports": list(row.get("ports") or ()) or None,
            "param": row.get("param") or None,
            "impact": _text(row.get("impact")),
            "fixed_reason": row.get("fixed_reason"),
            "source": row.get("source"),
        }
    )


def _text(html: Any) -> str | None:
    return (html_to_text(html) or None) if isinstance(html, str) else None


def _ms(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
